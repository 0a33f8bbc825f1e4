"""The shipped demo model loads through the normal loader and in/out-paints end to end on CPU;
the training script runs, saves and reloads on tiny random data."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from engine.api import InpaintRequest, ModelChoice, OutpaintRequest, Sampling
from engine.cli.common import run_blocking
from engine.store.loaders import load_model
from tools.train_demo import (
    CropSampler,
    DemoConfig,
    export,
    make_tokens,
    train_tokenizer,
    train_transformer,
)

DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "demo"
VAE, VAR = DEMO / "vae.safetensors", DEMO / "var.safetensors"


def natural_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients plus blobs and mild noise: closer to a photo than pure noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.stack(
        [120 + 80 * np.sin(xx / 37), 100 + 60 * np.cos(yy / 23), 90 + 50 * np.sin((xx + yy) / 51)],
        axis=-1,
    )
    for _ in range(6):
        cy, cx, r = rng.integers(h), rng.integers(w), rng.integers(8, 40)
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2) < r * r
        image[blob] = rng.integers(0, 255, 3)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def demo_choice() -> ModelChoice:
    return ModelChoice.from_files(vae=str(VAE), transformer=str(VAR))


def test_shipped_files_are_small_and_documented():
    sizes = {p.name: p.stat().st_size for p in DEMO.glob("*.safetensors")}
    assert set(sizes) == {"vae.safetensors", "var.safetensors"}
    assert sum(sizes.values()) <= 32 * 1024 * 1024
    for name in ("model_card.md", "metrics.json", "DATA_SOURCES.md"):
        assert (DEMO / name).is_file(), name
    metrics = json.loads((DEMO / "metrics.json").read_text())
    assert "evaluation" in metrics and "training" in metrics


def test_shipped_files_are_fp16_and_verified_against_the_registry(tmp_path, monkeypatch, capsys):
    from safetensors import safe_open

    from engine.cli.main import main

    with safe_open(VAR, "pt") as handle:
        assert handle.metadata()["precision"] == "fp16"
        assert handle.get_tensor("head.weight").dtype == torch.float16
    with safe_open(VAE, "pt") as handle:
        assert handle.get_tensor("quantize.embedding.weight").dtype == torch.float32
    assert main(["models", "verify", "demo"]) == 0
    assert capsys.readouterr().out.count("ok (against registry)") == 2

    tampered = tmp_path / "demo"
    tampered.mkdir()
    (tampered / "vae.safetensors").write_bytes(VAE.read_bytes())
    data = bytearray(VAR.read_bytes())
    data[-1] ^= 1
    (tampered / "var.safetensors").write_bytes(bytes(data))
    monkeypatch.setenv("FINESCALE_DEMO_DIR", str(tampered))
    assert main(["models", "verify", "demo"]) == 1
    assert "mismatch" in capsys.readouterr().out


def test_loads_through_the_normal_loader():
    model = load_model(str(VAE), str(VAR))
    assert model.patch_nums == (1, 2, 3, 4, 6, 8, 11, 16)
    assert model.resolution == 128
    assert model.var.cfg.num_classes == 2
    with torch.inference_mode():
        x = torch.zeros(1, 3, 128, 128)
        ids = model.vqvae.encode_ids(x)
        assert [t.shape[1] for t in ids] == [pn * pn for pn in model.patch_nums]
        image = model.vqvae.decode(model.vqvae.ids_to_fhat(ids))
    assert image.shape == (1, 3, 128, 128) and torch.isfinite(image).all()


def test_inpaints_end_to_end_on_cpu():
    image = natural_like(180, 260)
    mask = np.zeros(image.shape[:2], bool)
    mask[60:110, 100:170] = True
    request = InpaintRequest(
        model=demo_choice(), image=image, mask=mask, samples=1, grow_px=4,
        sampling=Sampling(cfg=3.0, top_k=900, top_p=0.95, seed=3),
    )  # fmt: skip
    started = time.perf_counter()
    (variation,) = run_blocking(request).variations
    assert time.perf_counter() - started < 60
    out = variation.image
    assert out.shape == image.shape and out.dtype == np.uint8
    from engine.imaging.masks import grow_mask

    outside = ~grow_mask(mask, 4)
    assert np.array_equal(out[outside], image[outside])
    assert not np.array_equal(out[mask], image[mask])  # something was generated
    assert len(variation.tokens) == 8


def test_outpaints_end_to_end_on_cpu():
    image = natural_like(120, 150, seed=1)
    request = OutpaintRequest(
        model=demo_choice(), image=image, right=40, bottom=24, samples=1,
        sampling=Sampling(cfg=3.0, top_k=900, top_p=0.95, seed=0),
    )  # fmt: skip
    started = time.perf_counter()
    (variation,) = run_blocking(request).variations
    assert time.perf_counter() - started < 60
    out = variation.image
    assert out.shape == (144, 190, 3)
    assert np.array_equal(out[:120, :150], image)


def tiny_config() -> DemoConfig:
    """A few-second version of the real recipe: f2 tokenizer, 16 px model, 1-block VAR."""
    return replace(
        DemoConfig(),
        resolution=16,
        patch_nums=(1, 2, 4, 8),
        vae_ch_mult=(1, 2),
        z_channels=8,
        vocab_size=64,
        small_crop=8,
        small_patch_nums=(1, 2, 4),
        tok_steps_small=2,
        tok_steps_full=1,
        tok_batch_small=4,
        tok_batch_full=2,
        restart_every=1,
        depth=1,
        embed_dim=32,
        num_heads=1,
        token_crops=12,
        var_steps=3,
        var_batch=4,
        var_warmup=1,
        photo_levels=(48, 24),
        texture_levels=(32, 16),
    )


def test_training_runs_saves_and_reloads(tmp_path):
    cfg = tiny_config()
    rng = np.random.default_rng(0)
    photos = [natural_like(48, 64, seed=s) for s in range(3)]
    textures = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)]
    sampler = CropSampler(photos, textures, cfg)
    device = torch.device("cpu")
    lines: list[str] = []
    run = tmp_path / "run"
    run.mkdir()
    held = np.stack([p[:16, :16] for p in photos])
    vqvae = train_tokenizer(cfg, sampler, run, device, lines.append, held, checkpoint_every=1)
    tokens = make_tokens(cfg, vqvae, sampler, run, device, lines.append, held)
    assert tokens["ids"].shape == (12, 1 + 4 + 16 + 64)
    var = train_transformer(cfg, vqvae, tokens, run, device, lines.append, checkpoint_every=1)
    assert (run / "tokenizer.pt").exists() and (run / "transformer.pt").exists()
    assert any("transformer: done, 3 steps" in line for line in lines)

    # Resuming continues from the checkpoint instead of starting over.
    more = replace(cfg, var_steps=4)
    train_transformer(more, vqvae, tokens, run, device, lines.append, checkpoint_every=1)
    assert any("resumed at step 3" in line for line in lines)

    out = tmp_path / "model"
    export(vqvae, var, out, cfg, run)
    model = load_model(str(out / "vae.safetensors"), str(out / "var.safetensors"))
    assert model.patch_nums == cfg.patch_nums and model.resolution == 16
    for name, module in (("vqvae", vqvae), ("var", var)):  # shipped fp16, codebook fp32
        loaded = getattr(model, name).state_dict()
        for key, value in module.state_dict().items():
            half = value.is_floating_point() and not key.startswith("quantize.")
            expected = value.half().float() if half else value
            assert torch.equal(loaded[key], expected), key
    image = natural_like(40, 40)
    mask = np.zeros((40, 40), bool)
    mask[10:20, 12:30] = True
    request = InpaintRequest(
        model=ModelChoice.from_files(vae=str(out / "vae.safetensors"),
                                     transformer=str(out / "var.safetensors")),
        image=image, mask=mask, grow_px=0, sampling=Sampling(top_k=20, seed=0),
    )  # fmt: skip
    (variation,) = run_blocking(request).variations
    assert variation.image.shape == image.shape
    assert np.array_equal(variation.image[~mask], image[~mask])


def test_registry_finds_the_shipped_demo_and_the_cli_uses_it_by_default(tmp_path):
    from engine.cli.main import main
    from engine.imaging.saving import save_image
    from engine.store import catalogue, installed

    spec = catalogue.get_model("demo")
    assert installed.status(spec) == "installed"
    assert {Path(p).resolve() for p in installed.resolve_files(spec).values()} == {VAE, VAR}

    image = natural_like(96, 128, seed=2)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[30:60, 40:90] = 255
    save_image(image, tmp_path / "photo.png")
    save_image(np.stack([mask] * 3, axis=-1), tmp_path / "mask.png")
    common = ["--image", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "mask.png")]
    assert main(["inpaint", *common, "--seed", "4", "--out", str(tmp_path / "a.png")]) == 0
    named = ["--model", "demo", "--seed", "4", "--out", str(tmp_path / "b.png")]
    assert main(["inpaint", *common, *named]) == 0

    from engine.imaging.imageio import load_image

    default, explicit = (load_image(tmp_path / n).pixels for n in ("a.png", "b.png"))
    assert np.array_equal(default, explicit), "no --model means the demo model"
    assert not np.array_equal(default[30:60, 40:90], image[30:60, 40:90])
