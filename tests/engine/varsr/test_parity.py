"""Golden parity with the official VARSR code (tests/fixtures/varsr_tiny, README §8 tolerances).

Ids exact; logits <= 1e-3; prefix, hidden states, refiner condition and f_hat <= 1e-4; refiner
outputs: >= 99.9 % of values within 1e-4 and all within 2e-2; image crop <= 1e-4; PNGs <= 2
levels on <= 0.1 % of values.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from engine.imaging.tensors import image_to_tensor
from engine.pipelines.varsr_window import upscale_window
from engine.samplers.varsr import Trace, sample_varsr_seeded
from tests.engine.varsr.conftest import FIXTURES

RUNS = json.loads((FIXTURES / "config.json").read_text())["runs"]


def _rgb(name: str) -> np.ndarray:
    return np.array(Image.open(FIXTURES / name).convert("RGB"))


def _stats(logits: torch.Tensor) -> dict[str, torch.Tensor]:
    top2 = logits.topk(2, dim=-1).values
    return {
        "logsumexp": logits.logsumexp(-1),
        "max": top2[..., 0],
        "argmax": logits.argmax(-1),
        "margin": top2[..., 0] - top2[..., 1],
    }


def assert_refiner_close(ours: torch.Tensor, ref: torch.Tensor) -> None:
    diff = (ours - ref).abs()
    assert diff.max() <= 2e-2
    assert (diff <= 1e-4).float().mean() >= 0.999


def assert_png_close(ours: np.ndarray, ref: np.ndarray) -> None:
    assert ours.shape == ref.shape
    diff = np.abs(ours.astype(int) - ref.astype(int))
    assert diff.max() <= 2
    assert (diff > 0).mean() <= 1e-3


def _image(models, f_hat: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return models.vqvae.decode(f_hat).add(1).mul(0.5)


@pytest.fixture(scope="module")
def official(varsr_models):
    trace = Trace()
    lr = image_to_tensor(_rgb("lr_resized_512.png"))
    out = sample_varsr_seeded(
        varsr_models.transformer, varsr_models.vqvae.quantize, lr, 0, trace=trace
    )
    return out, trace, load_file(str(FIXTURES / "official.safetensors"))


def test_official_ids_and_logits(official):
    out, trace, ref = official
    for si in range(10):
        assert torch.equal(out.ids[si], ref[f"idx_{si}"]), f"scale {si}"
    guided = torch.cat(trace.guided_logits, dim=1)
    for key, value in _stats(guided).items():
        if key == "argmax":
            assert torch.equal(value, ref["guided_argmax"])
        else:
            assert (value - ref[f"guided_{key}"]).abs().max() <= 1e-3, key
    assert (guided[:, :5] - ref["guided_logits_scales0to1"]).abs().max() <= 1e-3
    raw = torch.cat(trace.raw_logits, dim=1)
    assert torch.equal(raw.argmax(-1), ref["raw_argmax"])
    assert (raw.logsumexp(-1) - ref["raw_logsumexp"]).abs().max() <= 1e-3
    assert (raw.amax(-1) - ref["raw_max"]).abs().max() <= 1e-3


def test_official_features_and_refiner(official):
    out, trace, ref = official
    assert (trace.prefix[:, :64] - ref["prefix_tokens_first64"]).abs().max() <= 1e-4
    assert (trace.last_hidden[:, :64] - ref["last_hidden_first64"]).abs().max() <= 1e-4
    z = trace.refiner_cond.reshape(-1, trace.refiner_cond.shape[-1])
    assert (z[:64] - ref["refiner_z_cond_first64"]).abs().max() <= 1e-4
    assert (z[1024:1088] - ref["refiner_z_uncond_first64"]).abs().max() <= 1e-4
    assert [i for i, _, _ in trace.refiner_steps] == ref["refiner_t_index"].tolist()
    noise = torch.stack([n[:64] for _, n, _ in trace.refiner_steps])
    assert torch.equal(noise, ref["refiner_step_noise_first64"])  # the same random stream
    x_after = torch.stack([x[:64] for _, _, x in trace.refiner_steps])
    assert_refiner_close(x_after, ref["refiner_x_after_step_first64"])
    assert (out.f_hat_before_refiner - ref["f_hat_before_refiner"]).abs().max() <= 1e-4
    assert_refiner_close(out.refiner_residual, ref["refiner_residual"])


def test_official_image_and_pngs(official, varsr_models):
    out, _, ref = official
    img = _image(varsr_models, out.f_hat)
    assert (img[:, :, 224:288, 224:288] - ref["img_crop"]).abs().max() <= 1e-4
    assert (img.mean((2, 3)) - ref["img_channel_mean"]).abs().max() <= 1e-4
    assert (img.std((2, 3)) - ref["img_channel_std"]).abs().max() <= 1e-4


def test_window_pipeline_writes_the_reference_pngs(varsr_models):
    """``test_varsr.main`` end to end from the 128x128 LR file: sr_raw.png and sr_final.png."""
    result = upscale_window(varsr_models, _rgb("lr.png"), seed=0)
    assert_png_close(result.raw, _rgb("sr_raw.png"))
    assert_png_close(result.final, _rgb("sr_final.png"))


def test_teacher_forced_logits(varsr_models):
    ref = load_file(str(FIXTURES / "teacher_forced.safetensors"))
    lr = image_to_tensor(_rgb("lr_resized_512.png"))
    with torch.inference_mode():
        for label, prefix in ((0, "logits"), (1, "label1_logits")):
            logits = varsr_models.transformer(lr, torch.tensor([label]), ref["x_BLCv_wo_first_l"])
            for key, value in _stats(logits).items():
                if key == "argmax":
                    assert torch.equal(value, ref[f"{prefix}_argmax"])
                else:
                    assert (value - ref[f"{prefix}_{key}"]).abs().max() <= 1e-3, key
            if label == 0:
                assert (logits[..., :16] - ref["logits_first16"]).abs().max() <= 1e-3


def test_stochastic_batch_with_its_own_generator(varsr_models):
    """B = 2 (LR and its mirror), labels 0/1, top-k 900, top-p 0.96, ``g_seed`` 7, seed 1."""
    ref = load_file(str(FIXTURES / "sampled_B2_cfg3_topk900_topp0.96_gseed7.safetensors"))
    lr = image_to_tensor(_rgb("lr_resized_512.png"))
    generator = torch.Generator().manual_seed(7)
    out = sample_varsr_seeded(
        varsr_models.transformer,
        varsr_models.vqvae.quantize,
        torch.cat((lr, lr.flip(-1))),
        1,
        labels_B=torch.tensor([0, 1]),
        cfg=3.0,
        top_k=900,
        top_p=0.96,
        generator=generator,
    )
    for si in range(10):
        assert torch.equal(out.ids[si], ref[f"idx_{si}"]), f"scale {si}"
    assert (out.f_hat_before_refiner - ref["f_hat_before_refiner"]).abs().max() <= 1e-4
    assert_refiner_close(out.refiner_residual, ref["refiner_residual"])
    img = _image(varsr_models, out.f_hat)
    assert (img[:, :, 240:272, 240:272] - ref["img_crop"]).abs().max() <= 1e-3


def test_cfg_one_takes_the_unguided_refiner_branch(varsr_models):
    ref = load_file(str(FIXTURES / "cfg1_topk1_topp0.75.safetensors"))
    lr = image_to_tensor(_rgb("lr_resized_512.png"))
    out = sample_varsr_seeded(varsr_models.transformer, varsr_models.vqvae.quantize, lr, 2, cfg=1.0)
    for si in range(10):
        assert torch.equal(out.ids[si], ref[f"idx_{si}"]), f"scale {si}"
    assert_refiner_close(out.refiner_residual, ref["refiner_residual"])
    img = _image(varsr_models, out.f_hat)
    assert (img[:, :, 240:272, 240:272] - ref["img_crop"]).abs().max() <= 1e-4


def test_upscale_pipeline_reproduces_the_reference_window(varsr_models):
    """Finescale's upscale pipeline on a 128x128 input x4 is test_varsr.py's 512x512 result."""
    from engine.api import ModelChoice, UpscaleRequest
    from engine.models.varsr.family import VARSRFamily
    from engine.pipelines.upscale import run_upscale

    model = VARSRFamily(varsr_models)
    request = UpscaleRequest(image=_rgb("lr.png"), scale=4, model=ModelChoice(), seed=0)
    result = run_upscale(request, lambda dtype: model)
    assert result.plan.tiles == 1 and "fidelity 0 of 10 scales" in result.notes
    assert_png_close(result.image, _rgb("sr_final.png"))
