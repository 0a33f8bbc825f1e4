"""Golden parity with the official FoundationVision/Infinity loop (tests/fixtures/infinity_tiny).

The varedit_tiny recipe weights (VAREdit adds no parameters, so they are an Infinity checkpoint)
run as Infinity: no source pass, a plain first layer, Infinity's RoPE slices. The reference ran
``autoregressive_infer_cfg`` on CPU fp32 from the stored T5 features; see the fixture README.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from engine.api import Sampling
from engine.models.family import Condition
from engine.models.infinity.family import bit_teacher_force
from engine.models.infinity.pixels import decoded_to_uint8
from engine.models.infinity.rope import rope_table, target_span
from engine.models.infinity.t2i import NEEDS_PROMPT, InfinityModel
from engine.runtime.cancel import UserFacingError
from engine.samplers.bitwise import BitwiseSettings, sample_bits
from engine.store.infinity import load_transformer, load_vae
from tests.engine.infinity.recipes import PROMPT, fixture_tensors

GOLDEN = Path(__file__).parents[2] / "fixtures" / "infinity_tiny"
SCHEDULE = tuple((s, s) for s in (1, 2, 4, 6, 8, 12, 16))
MAIN = "t2i_cfg4_tau0.5_seed42"


def golden(name: str) -> dict[str, torch.Tensor]:
    return load_file(str(GOLDEN / f"{name}.safetensors"))


def reference_bits(ref: dict, si: int) -> torch.Tensor:
    return ref[f"bits_{si}"].reshape(1, -1, 32)


@pytest.fixture(scope="module")
def t2i_transformer(released_pth):
    return load_transformer(str(released_pth[0])).without_reference()


def run(transformer, cfg: float, tau: float, seed: int, override=None):
    features = fixture_tensors("text.safetensors")["kv_compact"]
    text = transformer.encode_text(features, guided=cfg != 1)
    settings = BitwiseSettings.constant(len(SCHEDULE), cfg, tau, top_k=900, top_p=0.97)
    generator = torch.Generator().manual_seed(seed)
    return sample_bits(
        transformer, text, None, SCHEDULE, settings, generator=generator, override=override
    )


def test_rope_positions_are_infinity_s_grid():
    """Scale s of a 256 px schedule sits on the 1M grid at (round(i*64/h), round(j*64/w)),
    starting right after the table's 4096-entry source block (which Infinity does not have)."""
    table = rope_table(64)
    start, end = target_span(SCHEDULE, 3, reference=False)
    assert (start, end) == (4096 + 1 + 4 + 16, 4096 + 1 + 4 + 16 + 36)
    # 6x6: row index round(1 * 64 / 6) = 11, column 0 -> the height angles of position 11.
    inv = 1.0 / (10000.0 ** (torch.arange(0, 32, 2).float() / 32))
    assert torch.allclose(table[0, start + 6, :16], torch.cos(11 * inv))
    assert torch.allclose(table[0, start + 6, 16:], torch.ones(16))


def test_bits_latent_and_image_match_the_reference(t2i_transformer, released_pth):
    ref = golden(MAIN)
    logits: list[torch.Tensor] = []
    hook = t2i_transformer.head.register_forward_hook(lambda _m, _a, out: logits.append(out))
    try:
        out = run(t2i_transformer, 4.0, 0.5, 42)
    finally:
        hook.remove()
    for si in (3, 6):
        delta = (logits[si] - ref[f"logits_raw_{si}"]).abs()
        assert delta.max() <= 2e-3 and delta.median() <= 1e-5
    for si in range(len(SCHEDULE)):
        assert torch.equal(out.bits[si], reference_bits(ref, si)), f"scale {si}"
    assert torch.equal(out.latent, ref["summed_codes"])
    decoded = load_vae(str(released_pth[1])).decode(out.latent)
    assert (decoded - ref["decoded"]).abs().max() <= 1e-4
    image = decoded_to_uint8(decoded).astype(np.int16)
    png = np.asarray(Image.open(GOLDEN / f"{MAIN}_output.png")).astype(np.int16)
    diff = np.abs(image - png)
    assert diff.max() <= 1 and diff.any(axis=-1).mean() <= 0.005


def test_teacher_forced_scales_match_the_reference_gt_leak(t2i_transformer):
    """``gt_leak=3``: the first three scales take the main run's bits after drawing (the random
    stream is unchanged), the rest are sampled: our override does the same."""
    main, ref = golden(MAIN), golden("t2i_cfg3_tau1_seed7_gtleak3")
    forced = [reference_bits(main, si) for si in range(3)]

    def override(si, bits, codes):
        if si >= 3:
            return bits, codes
        keep = [torch.ones(1, bits.shape[1], dtype=torch.bool)] * 3
        return bit_teacher_force(forced, keep)(si, bits, codes)

    out = run(t2i_transformer, 3.0, 1.0, 7, override)
    for si in range(len(SCHEDULE)):
        assert torch.equal(out.bits[si], reference_bits(ref, si)), f"scale {si}"
    assert torch.equal(out.latent, ref["summed_codes"])


def test_family_model_through_t5_gives_the_reference_bits(edit_files):
    """The whole family path: tokenizer + tiny T5 folder + loader at 256 px."""
    from engine.store.loaders import load_family

    model = load_family("infinity", edit_files, patch_nums=(1, 2, 4, 6, 8, 12, 16))
    assert isinstance(model, InfinityModel) and model.resolution == 256
    sampled = model.sample(Condition(text=PROMPT), Sampling(cfg=4, tau=0.5, top_p=0.97), 42)
    ref = golden(MAIN)
    for si in range(len(SCHEDULE)):
        assert torch.equal(sampled.tokens[si], reference_bits(ref, si)), f"scale {si}"
    with pytest.raises(UserFacingError, match="prompt"):
        model.sample(Condition(text="  "), Sampling(), 0)
    assert "prompt" in NEEDS_PROMPT
