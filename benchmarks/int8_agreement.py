"""bf16 blocks vs int8 weight-only blocks: bit agreement per scale and pixel difference.

For the tiny fixture model (trained-looking recipe weights from tests/fixtures/varedit_tiny)
and a wider random model (width 1024, 8 heads, FFN 4096, 4 blocks; the fixture's VAE), the
same edit (cfg 4, tau 0.5, 7 scales at 256 px) runs with bf16 blocks and with int8 blocks:

* free-running: each run feeds its own bits forward, so a flipped bit changes every later
  scale's input (what a user sees);
* teacher-forced: the int8 run is fed the bf16 run's bits, so each scale's agreement measures
  only that scale's own drift;
* pixels: mean |Δ| (0-255) and PSNR of the two decoded images;
* for scale, the same figures for bf16 vs fp32 blocks.

Random weights are not trained weights: no outlier channels, no real activation ranges, so
these figures show the mechanics (the error is what rounding predicts), not trained quality.

    python benchmarks/int8_agreement.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCHEDULE = tuple((s, s) for s in (1, 2, 4, 6, 8, 12, 16))


def psnr(a, b) -> float:
    import numpy as np

    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def run(transformer, vae, features, source, seed: int, override=None):
    import torch

    from engine.samplers.bitwise import BitwiseSettings, sample_bits

    text = transformer.encode_text(features, guided=True)
    settings = BitwiseSettings.constant(len(SCHEDULE), 4.0, 0.5)
    generator = torch.Generator().manual_seed(seed)
    out = sample_bits(
        transformer, text, source, SCHEDULE, settings, generator=generator, override=override
    )
    return out, vae.decode(out.latent)


def compare(bf16, int8, vae, features, source, seed: int) -> dict:
    import numpy as np
    import torch

    from engine.models.infinity.pixels import decoded_to_uint8

    ref, ref_img = run(bf16, vae, features, source, seed)
    free, free_img = run(int8, vae, features, source, seed)

    def forced(si, bits, codes):
        from engine.models.infinity.bsq_vae import bits_to_codes

        forced.drawn.append(bits)
        return ref.bits[si], bits_to_codes(ref.bits[si]).to(codes.dtype)

    forced.drawn = []
    run(int8, vae, features, source, seed, override=forced)
    agree = lambda a, b: float((a == b).float().mean())  # noqa: E731
    a, b = decoded_to_uint8(ref_img), decoded_to_uint8(free_img)
    return {
        "free": [agree(x, y) for x, y in zip(ref.bits, free.bits, strict=True)],
        "forced": [agree(x, y) for x, y in zip(ref.bits, forced.drawn, strict=True)],
        "mean_abs": float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()),
        "psnr": psnr(a, b),
        "latent_equal": bool(torch.equal(ref.latent, free.latent)),
    }


def models(transformer_path: str, dtype: str):
    """The transformer with "fp32", "bf16" or "int8" (bf16 compute) blocks."""
    import torch

    from engine.store.infinity import load_transformer

    block_dtype = torch.float32 if dtype == "fp32" else torch.bfloat16
    return load_transformer(transformer_path, block_dtype=block_dtype, int8_blocks=dtype == "int8")


def write_wide(folder: Path) -> str:
    from safetensors.torch import save_file

    from engine.models.infinity.config import InfinityConfig
    from engine.models.infinity.transformer import InfinityTransformer
    from tests.engine.infinity.random_models import randomize

    cfg = InfinityConfig(1024, 4, 2, 8, 4096, 32, 128, 1, 15)
    state = randomize(InfinityTransformer(cfg), seed=3)
    path = folder / "wide.safetensors"
    save_file(state, str(path))
    return str(path)


def report(name: str, rows: list[dict]) -> None:
    import numpy as np

    free = np.mean([r["free"] for r in rows], axis=0)
    forced = np.mean([r["forced"] for r in rows], axis=0)
    print(f"{name}: bit agreement per scale (mean of {len(rows)} seeds)")
    print("  free-running  " + " ".join(f"{v:.4f}" for v in free))
    print("  teacher-forced" + " ".join(f" {v:.4f}" for v in forced))
    mean_abs = np.mean([r["mean_abs"] for r in rows])
    psnrs = [r["psnr"] for r in rows]
    print(
        f"  pixels: mean |Δ| {mean_abs:.2f} levels, PSNR {np.mean(psnrs):.1f} dB "
        f"(min {min(psnrs):.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    import torch
    from PIL import Image

    from engine.models.infinity.pixels import image_to_input, source_tokens
    from engine.store.infinity import load_vae
    from tests.engine.infinity.recipes import FIXTURES, fixture_tensors, write_released

    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory() as folder:
        tiny_path, vae_path = write_released(Path(folder), "safetensors")
        vae = load_vae(str(vae_path))
        rgb = np.asarray(Image.open(FIXTURES / "source.png").convert("RGB")).copy()
        with torch.inference_mode():
            source = source_tokens(vae.encode_raw(image_to_input(rgb)), SCHEDULE[-1], False)
            features = fixture_tensors("text.safetensors")["kv_compact"]
            for name, path in (("tiny fixture", str(tiny_path)), ("wide random", None)):
                path = path or write_wide(Path(folder))
                fp32, bf16, int8 = (models(path, d) for d in ("fp32", "bf16", "int8"))
                rows = [compare(bf16, int8, vae, features, source, s) for s in range(args.seeds)]
                report(f"{name}, int8 vs bf16", rows)
                rows = [compare(fp32, bf16, vae, features, source, s) for s in range(args.seeds)]
                report(f"{name}, bf16 vs fp32 (the drift bf16 itself causes, for scale)", rows)


if __name__ == "__main__":
    main()
