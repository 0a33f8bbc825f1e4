"""Reduced precision: blocks in bf16/fp16, embeddings, f_hat, head and logits in float32."""

from __future__ import annotations

import pytest
import torch

from engine.runtime.cancel import UserFacingError
from engine.runtime.devices import resolve_device, resolve_dtype
from engine.samplers.var import sample_scales
from engine.store.loaders import load_model


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_reduced_precision_keeps_fp32_where_the_reference_does(tiny_checkpoints, dtype):
    model = load_model(*tiny_checkpoints, dtype=dtype)
    expected = resolve_dtype(dtype)
    assert model.var.blocks[0].attn.mat_qkv.weight.dtype == expected
    for fp32_part in (model.var.word_embed, model.var.class_emb, model.var.head, model.var.head_nm):
        assert all(p.dtype == torch.float32 for p in fp32_part.parameters())
    logits = model.var.run_blocks(torch.zeros(2, 1, 64), model.var.class_emb(torch.tensor([1, 2])))
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
    out = sample_scales(model.var, model.vqvae.quantize, torch.tensor([1]), top_k=20,
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert out.f_hat.dtype == torch.float32 and torch.isfinite(out.f_hat).all()


def test_bf16_agrees_with_fp32_on_the_coarse_scales(tiny_checkpoints):
    runs = []
    for dtype in ("fp32", "bf16"):
        model = load_model(*tiny_checkpoints, dtype=dtype)
        runs.append(sample_scales(model.var, model.vqvae.quantize, torch.tensor([1]), top_k=5,
                                  generator=torch.Generator().manual_seed(0)).ids)  # fmt: skip
    assert torch.equal(runs[0][0], runs[1][0])


def test_devices_that_are_not_there_are_clear_errors():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(UserFacingError, match="Unknown device"):
        resolve_device("tpu")
    with pytest.raises(UserFacingError, match="precision"):
        resolve_dtype("fp8")
    if not torch.cuda.is_available():
        with pytest.raises(UserFacingError, match="CUDA"):
            resolve_device("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none here)")
def test_cuda_sampling_runs(tiny_checkpoints):
    model = load_model(*tiny_checkpoints, device="cuda", dtype="bf16")
    out = sample_scales(model.var, model.vqvae.quantize, torch.tensor([1], device="cuda"),
                        generator=torch.Generator(device="cuda").manual_seed(0))  # fmt: skip
    assert out.f_hat.is_cuda
