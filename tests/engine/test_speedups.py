"""Opt-in trade-offs (CFG skipped on the last scales, FastVAR pruning) and cheap previews.

Off by default, so the exact path is untouched (the parity tests hold that); when on they must
still give valid tokens, really run less, and cost less than the exact path.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.api import Sampling
from engine.imaging.preview import LinearPreview, probe_image
from engine.imaging.tensors import image_to_tensor, tensor_to_image
from engine.models.var.family import VarModel
from engine.samplers.var import sample_scales
from tests.tiny_models import tiny_models


@pytest.fixture(scope="module")
def tiny():
    return tiny_models()


def sample(tiny, seed: int = 0, **options):
    vqvae, var = tiny
    generator = torch.Generator().manual_seed(seed)
    labels = torch.tensor([3, 7])
    return sample_scales(var, vqvae.quantize, labels, cfg=2.0, generator=generator, **options)


def count_block_rows(var) -> list[int]:
    """Rows (batch x tokens) each call of the first block sees, recorded by a forward hook."""
    rows: list[int] = []
    var.blocks[0].register_forward_hook(lambda m, args, out: rows.append(args[0].shape[:2]))
    return rows


def test_defaults_are_the_exact_path(tiny):
    plain, off = sample(tiny), sample(tiny, cfg_skip_last=0, prune_ratio=0.0)
    for a, b in zip(plain.ids, off.ids, strict=True):
        assert torch.equal(a, b)


def test_cfg_skip_runs_the_last_scales_at_half_batch(tiny):
    vqvae, var = tiny
    rows = count_block_rows(var)
    out = sample(tiny, cfg_skip_last=2)
    var.blocks[0]._forward_hooks.clear()
    n = len(var.cfg.patch_nums)
    assert [r[0] for r in rows] == [4] * (n - 2) + [2, 2]  # batch 2, doubled for CFG until then
    assert all(int(i.max()) < var.cfg.vocab_size for i in out.ids)
    exact = sample(tiny)
    assert torch.equal(out.ids[0], exact.ids[0])  # coarse scales untouched
    assert not all(torch.equal(a, b) for a, b in zip(out.ids, exact.ids, strict=True))


def test_pruning_runs_the_blocks_on_fewer_tokens_of_the_largest_scales(tiny):
    vqvae, var = tiny
    rows = count_block_rows(var)
    out = sample(tiny, prune_ratio=0.5, prune_scales=2)
    var.blocks[0]._forward_hooks.clear()
    sizes = [pn * pn for pn in var.cfg.patch_nums]
    assert [r[1] for r in rows[:-2]] == sizes[:-2]
    assert [r[1] for r in rows[-2:]] == [round(s * 0.5) for s in sizes[-2:]]
    assert [i.shape[1] for i in out.ids] == sizes  # every token still gets an id
    assert torch.isfinite(out.f_hat).all()


def test_pruning_and_cfg_skip_combine(tiny):
    out = sample(tiny, cfg_skip_last=2, prune_ratio=0.5, prune_scales=3)
    assert torch.isfinite(out.f_hat).all()


def test_var_model_passes_the_settings_through(tiny):
    vqvae, var = tiny
    model = VarModel(vqvae, var, torch.device("cpu"), torch.float32, "tiny")
    rows = count_block_rows(var)
    model.sample(model_condition(), Sampling(cfg=2.0, cfg_skip_last=1), seed=0)
    var.blocks[0]._forward_hooks.clear()
    assert rows[-1][0] == 1 and rows[0][0] == 2


def model_condition():
    from engine.models.family import Condition

    return Condition(class_label=5)


def test_linear_preview_is_close_to_the_decoder_at_the_latent_grid(tiny):
    vqvae, var = tiny
    model = VarModel(vqvae, var, torch.device("cpu"), torch.float32, "tiny")
    with torch.inference_mode():
        f = vqvae.features(image_to_tensor(probe_image(model.resolution)))
        decoded = tensor_to_image(vqvae.decode(f))[0].astype(np.float32)
    preview = model.preview(f, len(model.patch_nums) - 2)
    grid = f.shape[-1]
    assert preview.shape == (grid * 4, grid * 4, 3) and preview.dtype == np.uint8
    import cv2

    small = cv2.resize(decoded, (grid, grid), interpolation=cv2.INTER_AREA)
    approx = cv2.resize(preview, (grid, grid), interpolation=cv2.INTER_AREA).astype(np.float32)
    flat = np.abs(small - small.mean(axis=(0, 1))).mean()  # error of a flat-colour guess
    assert np.abs(approx - small).mean() < 0.8 * flat


def test_linear_fit_recovers_a_known_linear_map():
    torch.manual_seed(0)
    latent = torch.randn(1, 8, 12, 12)
    weight, bias = torch.randn(3, 8) * 0.1, torch.tensor([0.1, -0.2, 0.3])
    rgb = (torch.einsum("oc,bchw->bohw", weight, latent) + bias[None, :, None, None]).clamp(-1, 1)
    fitted = LinearPreview.fit(latent, rgb)
    torch.testing.assert_close(fitted.weight, weight, atol=2e-2, rtol=0)
    torch.testing.assert_close(fitted.bias, bias, atol=2e-2, rtol=0)
