"""Golden parity with the official VAREdit code (tests/fixtures/varedit_tiny, CPU fp32).

Weights are rebuilt from the fixture's recipes, written as released .pth/.safetensors files and
read back through the engine's loader. Text features come from the fixture (T5 is covered by
test_text.py). Tolerances are the README's section 7.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.models.infinity.attention import area_pool
from engine.models.infinity.pixels import decoded_to_uint8, image_to_input, source_tokens
from engine.models.infinity.rope import source_span, target_span
from engine.samplers.bitwise import BitwiseSettings, sample_bits
from engine.store.infinity import load_transformer, load_vae
from tests.engine.infinity.recipes import FIXTURES, fixture_tensors

SCHEDULE = tuple((s, s) for s in (1, 2, 4, 6, 8, 12, 16))
MAIN = "edit_cfg4_tau0.5_seed42.safetensors"


def run_edit(transformer, vae, rgb, cfg: float, tau: float, sa_hook=None):
    text = fixture_tensors("text.safetensors")["kv_compact"]
    raw = vae.encode_raw(image_to_input(rgb))
    condition = transformer.encode_text(text, guided=cfg != 1)
    source = source_tokens(raw, SCHEDULE[-1], patchify=False)
    settings = BitwiseSettings.constant(len(SCHEDULE), cfg, tau, top_k=900, top_p=0.97)
    generator = torch.Generator().manual_seed(42)
    out = sample_bits(transformer, condition, source, SCHEDULE, settings, generator=generator)
    return raw, condition, out


def bits_of(ref: dict, si: int) -> torch.Tensor:
    return ref[f"bits_{si}"].reshape(1, -1, 32)


@pytest.fixture(scope="module")
def main_edit(tiny_models, source_rgb):
    """The main edit, with the head's raw logits (both rows) recorded per scale."""
    transformer = tiny_models[0]
    logits: list[torch.Tensor] = []
    handle = transformer.head.register_forward_hook(lambda _m, _a, out: logits.append(out))
    try:
        return (*run_edit(*tiny_models, source_rgb, cfg=4.0, tau=0.5), logits)
    finally:
        handle.remove()


def test_source_features_and_text_condition(main_edit):
    ref = fixture_tensors(MAIN)
    raw, condition, _, _ = main_edit
    assert (raw - ref["src_raw_features"]).abs().max() <= 1e-4
    assert (condition.cond_BD - ref["cond_BD"]).abs().max() <= 1e-4
    assert (condition.kv.tokens - ref["ca_kv_proj"]).abs().max() <= 1e-4


def test_main_edit_bits_latent_decoded_png(main_edit, tiny_models):
    ref = fixture_tensors(MAIN)
    _, _, out, logits = main_edit
    for si in (3, 6):  # the stored ones; raw logits within ~2e-3, median ~1e-6
        delta = (logits[si] - ref[f"logits_raw_{si}"]).abs()
        assert delta.max() <= 2e-3 and delta.median() <= 1e-5
    for si in range(len(SCHEDULE)):
        assert torch.equal(out.bits[si], bits_of(ref, si)), f"scale {si}"
    assert torch.equal(out.latent, ref["summed_codes"])
    decoded = tiny_models[1].decode(out.latent)
    assert (decoded - ref["decoded"]).abs().max() <= 1e-4
    image = decoded_to_uint8(decoded).astype(np.int16)
    golden = np.asarray(Image.open(FIXTURES / "edit_cfg4_tau0.5_seed42_output.png")).astype(
        np.int16
    )
    diff = np.abs(image - golden)
    assert diff.max() <= 1
    assert (diff.any(axis=-1)).mean() <= 0.005


def test_second_edit_bits(tiny_models, source_rgb):
    ref = fixture_tensors("edit_cfg3_tau1_seed42.safetensors")
    _, _, out = run_edit(*tiny_models, source_rgb, cfg=3.0, tau=1.0)
    for si in range(len(SCHEDULE)):
        assert torch.equal(out.bits[si], bits_of(ref, si)), f"scale {si}"
    assert torch.equal(out.latent, ref["summed_codes"])


def test_sar_layer0_at_scale2(tiny_models, source_rgb):
    """Layer 0's inputs recorded during the edit, its q/k/v/output recomputed from them."""
    transformer, vae = tiny_models
    sa = transformer.block_chunks[0].module[0].sa
    inputs: list[torch.Tensor] = []
    handle = sa.register_forward_hook(lambda _m, args, _out: inputs.append(args[0].clone()))
    try:
        run_edit(transformer, vae, source_rgb, cfg=4.0, tau=0.5)
    finally:
        handle.remove()
    ref = fixture_tensors("sar_layer0_scale2.safetensors")
    x_src, x_targets = inputs[0], inputs[1:]
    assert (x_targets[2] - ref["x_in"]).abs().max() <= 1e-4
    _, src_k, src_v = sa.qkv(x_src, transformer.rope(*source_span(SCHEDULE)))
    assert (src_k - ref["src_k_fullres"]).abs().max() <= 1e-4
    qkv = [
        sa.qkv(x, transformer.rope(*target_span(SCHEDULE, si)))
        for si, x in enumerate(x_targets[:3])
    ]
    keys = torch.cat([area_pool(src_k, (16, 16), (4, 4))] + [k for _, k, _ in qkv], dim=2)
    values = torch.cat([area_pool(src_v, (16, 16), (4, 4))] + [v for _, _, v in qkv], dim=2)
    q = qkv[2][0]
    assert (q - ref["q"]).abs().max() <= 1e-4
    assert (keys - ref["k"]).abs().max() <= 1e-4
    assert (values - ref["v"]).abs().max() <= 1e-4
    attn = torch.nn.functional.scaled_dot_product_attention(q, keys, values, scale=1.0)
    assert (attn - ref["attn_out"]).abs().max() <= 1e-4
    merged = sa.proj(attn.transpose(1, 2).reshape(2, 16, -1))
    assert (merged - ref["out"]).abs().max() <= 1e-4


def test_safetensors_files_give_the_same_bits(released_safetensors, source_rgb):
    transformer_path, vae_path = released_safetensors
    transformer, vae = load_transformer(str(transformer_path)), load_vae(str(vae_path))
    ref = fixture_tensors(MAIN)
    _, _, out = run_edit(transformer, vae, source_rgb, cfg=4.0, tau=0.5)
    for si in range(len(SCHEDULE)):
        assert torch.equal(out.bits[si], bits_of(ref, si)), f"scale {si}"
