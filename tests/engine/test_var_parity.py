"""Golden parity with the official VAR code (fixtures made by it on tiny seeded weights).

Tolerances come from tests/fixtures/var_tiny/README.md §6: ids identical, float outputs within
1e-4, except the Gumbel-smoothed setting (1e-2 on f_hat, 1e-3 on pixels).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from engine.imaging.tensors import image_to_tensor
from engine.samplers.hooks import teacher_force
from engine.samplers.var import sample_scales
from engine.store.loaders import load_model
from tests.recipes import FIXTURES

SETTINGS = json.loads((FIXTURES / "config.json").read_text())["sampling"]


@pytest.fixture(scope="module")
def models(fixture_checkpoints):
    """Plain model from .pth files, shared-AdaLN model from .safetensors files."""
    plain = load_model(fixture_checkpoints["vae.pth"], fixture_checkpoints["var.pth"])
    shared = load_model(
        fixture_checkpoints["vae.safetensors"], fixture_checkpoints["var_shared_aln.safetensors"]
    )
    return plain, shared


@pytest.fixture(scope="module")
def source():
    rgb = np.array(Image.open(FIXTURES / "test_image.png").convert("RGB"))
    return rgb, load_file(str(FIXTURES / "encode.safetensors"))


def test_config_inferred_from_tensors(models):
    plain, shared = models
    assert (plain.var.cfg.depth, plain.var.cfg.embed_dim, plain.var.cfg.num_heads) == (2, 128, 2)
    assert plain.patch_nums == (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)
    assert not plain.var.cfg.shared_aln and shared.var.cfg.shared_aln
    assert plain.vqvae.cfg.ch == 32 and plain.vqvae.cfg.share_quant_resi == 4
    assert plain.resolution == 256


@torch.inference_mode()
def test_tokenizer_matches_reference(models, source):
    plain, _ = models
    rgb, ref = source
    f = plain.vqvae.features(image_to_tensor(rgb))
    assert (f - ref["f"]).abs().max() <= 1e-4
    ids, f_hats = plain.vqvae.quantize.encode(f)
    for si in range(10):
        assert torch.equal(ids[si], ref[f"idx_{si}"]), f"scale {si}"
        assert (f_hats[si] - ref[f"f_hat_cum_{si}"]).abs().max() <= 1e-4
    recon = plain.vqvae.decode(ref["f_hat"])
    assert (recon - ref["recon"]).abs().max() <= 1e-4


@torch.inference_mode()
@pytest.mark.parametrize("which", ["plain", "shared_aln"])
def test_teacher_forced_logits_match_reference(models, source, which):
    model = models[0] if which == "plain" else models[1]
    ref = load_file(str(FIXTURES / "teacher_forced.safetensors"))
    _, enc = source
    x = model.vqvae.quantize.teacher_forcing_input([enc[f"idx_{si}"] for si in range(10)])
    assert (x - ref["x_BLCv_wo_first_l"]).abs().max() <= 1e-4
    logits = model.var(torch.tensor([207]), x)
    prefix, cols = ("", 512) if which == "plain" else ("shared_aln_", 128)
    assert (logits[..., :cols] - ref[f"{prefix}logits_first{cols}"]).abs().max() <= 1e-4
    assert (logits.logsumexp(-1) - ref[f"{prefix}logits_logsumexp"]).abs().max() <= 1e-4
    assert (logits.amax(-1) - ref[f"{prefix}logits_max"]).abs().max() <= 1e-4
    assert torch.equal(logits.argmax(-1), ref[f"{prefix}logits_argmax"])


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_sampling_matches_reference(models, name):
    s = SETTINGS[name]
    model = models[1] if "model" in s else models[0]
    ref = load_file(str(FIXTURES / name))
    labels = s["label_B"] if isinstance(s["label_B"], list) else [s["label_B"]] * s["B"]
    seen_logits = []
    output = sample_scales(
        model.var,
        model.vqvae.quantize,
        torch.tensor(labels),
        cfg=s["cfg"],
        top_k=s["top_k"],
        top_p=s["top_p"],
        smooth=s["more_smooth"],
        generator=torch.Generator().manual_seed(s["g_seed"]),
        on_scale=lambda si, f_hat, ids: seen_logits.append(si),
    )
    assert seen_logits == list(range(10))
    for si in range(10):
        assert torch.equal(output.ids[si], ref[f"idx_{si}"]), f"scale {si}"
    f_tol, img_tol = (1e-2, 1e-3) if s["more_smooth"] else (1e-4, 1e-4)
    assert (output.f_hat - ref["f_hat"]).abs().max() <= f_tol
    if "img" in ref:
        with torch.inference_mode():
            img = model.vqvae.decode(output.f_hat).add(1).mul(0.5)
        assert (img - ref["img"]).abs().max() <= img_tol


def test_same_seed_same_tokens_and_cache_released(models):
    plain, _ = models
    runs = [
        sample_scales(
            plain.var, plain.vqvae.quantize, torch.tensor([3]), cfg=2.0, top_k=50,
            generator=torch.Generator().manual_seed(7),
        ).ids
        for _ in range(2)
    ]  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))
    assert all(block.attn.cached_k is None for block in plain.var.blocks)


def test_kv_cache_released_when_cancelled(models):
    plain, _ = models

    class Stop(Exception):
        pass

    def stop_at_scale_three(si, f_hat, ids):
        if si == 3:
            raise Stop

    with pytest.raises(Stop):
        sample_scales(
            plain.var, plain.vqvae.quantize, torch.tensor([1]),
            generator=torch.Generator().manual_seed(0), on_scale=stop_at_scale_three,
        )  # fmt: skip
    assert all(not b.attn.caching and b.attn.cached_k is None for b in plain.var.blocks)


def test_zero_shot_inpainting_hook_matches_reference(models, source):
    """The token override feeds the reference's ids at every scale and gives its image."""
    plain, _ = models
    _, enc = source
    ref = load_file(
        str(FIXTURES / "inpaint_box0.25-0.7_label1000_cfg3_topk900_topp0.95.safetensors")
    )
    keep = [ref[f"keep_mask_{si}"].bool() for si in range(10)]
    src = [enc[f"idx_{si}"] for si in range(10)]
    seen, sampled = [], []
    force = teacher_force(src, keep, plain.vqvae.quantize.embedding)

    def recording_override(si, ids, h):
        sampled.append(ids.clone())
        return force(si, ids, h)

    output = sample_scales(
        plain.var, plain.vqvae.quantize, torch.tensor([1000]), cfg=3, top_k=900, top_p=0.95,
        generator=torch.Generator().manual_seed(0), override=recording_override,
        on_scale=lambda si, f_hat, ids: seen.append(ids.clone()),
    )  # fmt: skip
    for si in range(10):
        assert torch.equal(output.ids[si], ref[f"fed_idx_{si}"]), f"scale {si}"
        assert torch.equal(sampled[si], ref[f"sampled_idx_{si}"]), f"scale {si}"
        kept = keep[si]
        assert torch.equal(seen[si][kept], src[si][kept])  # kept = source tokens
        assert torch.equal(seen[si][~kept], sampled[si][~kept])  # masked = sampled
    with torch.inference_mode():
        img = plain.vqvae.decode(output.f_hat).add(1).mul(0.5)
    assert (output.f_hat - ref["f_hat"]).abs().max() <= 1e-4
    assert (img - ref["img"]).abs().max() <= 1e-4
