"""int8 weight-only blocks: quantisation, the layer, strict loading and the meta skeleton."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.api import Sampling
from engine.api.memory import MemoryStrategy
from engine.models.family import Condition
from engine.models.infinity.build import build_transformer, transformer_skeleton
from engine.models.infinity.config import SQUARE_SIDES
from engine.models.int8 import Int8Linear, quantize_rows
from engine.runtime.cancel import UserFacingError
from engine.store.infinity import load_varedit_files
from tests.engine.infinity.recipes import PROMPT, build_state_dict


def test_quantize_rows_rounds_within_half_a_step():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(16, 40, generator=g)
    w[3] = 0  # an all-zero row stays zero
    w[5, 7] = 50.0  # an outlier widens only its own row's step
    original = w.clone()
    q, scale = quantize_rows(w)
    assert torch.equal(w, original)  # the caller's tensor is never written
    assert q.dtype == torch.int8 and scale.dtype == torch.float32 and scale.shape == (16,)
    assert int(q.abs().max()) == 127 and not q[3].any()
    error = (q.float() * scale[:, None] - w).abs()
    assert (error <= scale[:, None] / 2 + 1e-7).all()
    assert scale[5] > 10 * scale[4]


def test_int8_linear_is_the_matmul_with_dequantised_weights():
    g = torch.Generator().manual_seed(1)
    w, b, x = torch.randn(24, 32, generator=g), torch.randn(24), torch.randn(3, 32)
    layer = Int8Linear(32, 24, bias=True, dtype=torch.float32)
    layer.weight, layer.scale = quantize_rows(w)
    layer.bias.data = b
    expected = F.linear(x, layer.weight.float() * layer.scale[:, None], b)
    assert torch.equal(layer(x), expected)
    bound = x.abs().sum(1, keepdim=True) * layer.scale / 2  # |sum x_i e_i| <= sum |x_i| s/2
    assert ((layer(x) - F.linear(x, w, b)).abs() <= bound + 1e-5).all()


def test_the_meta_skeleton_counts_the_bytes_loading_creates():
    state = dict(build_state_dict("weights_infinity.json"))
    for dtype, int8 in ((torch.float32, False), (torch.bfloat16, False), (torch.bfloat16, True)):
        model = build_transformer(dict(state), "2B-256.pth", dtype, int8)
        skeleton = transformer_skeleton(model.cfg, dtype, int8)
        loaded, meta = model.state_dict(), skeleton.state_dict()
        assert all(t.is_meta for t in meta.values()) and loaded.keys() == meta.keys()
        for key, tensor in meta.items():
            assert (loaded[key].shape, loaded[key].dtype) == (tensor.shape, tensor.dtype), key
    block = model.block_chunks[0].module[0]
    layers = (block.sa.mat_qkv, block.sa.proj, block.ca.mat_q, block.ca.mat_kv, block.ca.proj)
    assert all(isinstance(m, Int8Linear) for m in (*layers, block.ffn.fc1, block.ffn.fc2))
    assert block.ffn.fc1.weight.dtype == torch.int8 and block.ffn.fc1.bias.dtype == torch.bfloat16
    assert not isinstance(model.head, Int8Linear)  # only the blocks


def test_an_int8_load_still_names_a_wrong_key():
    state = dict(build_state_dict("weights_infinity.json"))
    del state["block_chunks.1.module.0.ffn.fc2.weight"]
    with pytest.raises(UserFacingError, match="missing key.*ffn.fc2.weight"):
        build_transformer(state, "bad.pth", torch.bfloat16, int8_blocks=True)


def test_int8_edit_runs_end_to_end_near_bf16(edit_files):
    """The tiny model, one guided edit: the coarse scales' bits agree with bf16 blocks and
    the picture stays close (measured: >99% of bits, ~5 levels mean; see the benchmark)."""
    rgb = np.asarray(np.random.default_rng(0).integers(0, 256, (256, 256, 3)), dtype=np.uint8)
    out = {}
    for int8 in (False, True):
        model = load_varedit_files(
            edit_files,
            dtype="bf16",
            patch_nums=SQUARE_SIDES[:7],
            strategy=MemoryStrategy(int8_blocks=int8),
        )
        sampling = Sampling(cfg=4.0, top_k=900, top_p=0.97, tau=0.5)
        sampled = model.sample(Condition(text=PROMPT, reference=rgb), sampling, 5)
        out[int8] = (sampled.tokens, model.decode(sampled.latent).astype(np.float32))
    assert torch.equal(out[False][0][0], out[True][0][0])
    agreement = [
        float((a == b).float().mean())
        for a, b in zip(*(out[k][0] for k in (False, True)), strict=True)
    ]
    assert min(agreement) > 0.97, agreement
    assert np.abs(out[False][1] - out[True][1]).mean() < 16
