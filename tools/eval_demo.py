"""Honest evaluation of the demo model on held-out photos, next to classical baselines.

Why: a "demo" label is only fair if the numbers behind it are published. This measures

* the tokenizer: PSNR / SSIM of encode -> decode at the model resolution, next to bicubic
  up-sampling from a thumbnail holding the same number of bits as the token pyramid (and
  bicubic x4, a much richer reference), plus codebook use;
* in-painting through the real engine (``engine.cli.common.run_blocking`` with ``InpaintRequest`` /
  ``OutpaintRequest``, default sampling) on three mask kinds, next to OpenCV Telea, a blurred
  fill and the tokenizer oracle (the hole decoded from the true tokens, an upper bound): PSNR
  and SSIM inside the hole and sharpness (variance of the Laplacian inside the hole, also shown
  for the real pixels). VAR numbers are the mean over sampling seeds, never the best of them.

No threshold is applied: the numbers go to ``metrics.json`` and the model card as they are.

    python tools/eval_demo.py --model resources/models/demo --crops 24 --seeds 2
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.api import InpaintRequest, ModelChoice, OutpaintRequest, Sampling  # noqa: E402
from engine.cli.common import run_blocking  # noqa: E402
from engine.imaging.tensors import image_to_tensor, tensor_to_image  # noqa: E402
from engine.models.var.family import VarModel  # noqa: E402
from engine.store.loaders import load_model  # noqa: E402
from tools.train_demo import heldout_crops, load_images  # noqa: E402

EVAL_SEED = 7  # crops differ from the ones watched during training (seed 1234 / 99)


# ---------------------------------------------------------------------------------- metrics


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """PSNR in dB on 0..255, optionally only over the pixels where ``where`` is True."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    if where is not None:
        diff = diff[where]
    mse = float(np.mean(diff**2))
    return 10 * math.log10(255**2 / max(mse, 1e-10))


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of the grey images (Gaussian window 11, sigma 1.5, as Wang et al.)."""
    x = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64)
    y = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def ssim(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    values = ssim_map(a, b)
    return float(values[where].mean() if where is not None else values.mean())


def sharpness(rgb: np.ndarray, where: np.ndarray) -> float:
    """Variance of the Laplacian inside ``where`` (eroded by 2 px so the seam is not counted)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    lap = cv2.Laplacian(grey, cv2.CV_64F, ksize=3)
    inner = cv2.erode(where.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    region = lap[inner if inner.any() else where]
    return float(region.var())


# -------------------------------------------------------------------------------- baselines


def telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return cv2.inpaint(image, mask.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)


def blurred_fill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalised convolution: each hole pixel is the Gaussian-weighted mean of known pixels,
    at the finest of several widths that reaches any known pixel."""
    known = (~mask).astype(np.float64)
    src = image.astype(np.float64) * known[..., None]
    out = image.astype(np.float64).copy()
    todo = mask.copy()
    for sigma in (4, 8, 16, 32, 64):
        size = int(6 * sigma + 1) | 1
        weight = cv2.GaussianBlur(known, (size, size), sigma)
        total = cv2.GaussianBlur(src, (size, size), sigma)
        ok = todo & (weight > 1e-3)
        out[ok] = total[ok] / weight[ok][:, None]
        todo &= ~ok
    out[todo] = image[~mask].mean(0)
    return np.clip(out.round(), 0, 255).astype(np.uint8)


@torch.inference_mode()
def tokenizer_roundtrip(model: VarModel, crops: np.ndarray) -> np.ndarray:
    """Encode -> token pyramid -> decode, through the engine's own inference calls."""
    out = []
    for crop in crops:
        x = image_to_tensor(crop, model.device)
        ids = model.vqvae.encode_ids(x)
        out.append(tensor_to_image(model.vqvae.decode(model.vqvae.ids_to_fhat(ids)))[0])
    return np.stack(out)


def bicubic_from(crop: np.ndarray, side: int) -> np.ndarray:
    """Area-downsample to ``side``² then bicubic back: the classical equal-bits reference."""
    size = crop.shape[0]
    small = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


# ------------------------------------------------------------------------------------ masks


def box_mask(size: int, box: int = 48) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    lo = (size - box) // 2
    mask[lo : lo + box, lo : lo + box] = True
    return mask


def stroke_mask(size: int, rng: np.random.Generator, lo: float = 0.10, hi: float = 0.25):
    """Random free-form brush strokes covering between ``lo`` and ``hi`` of the area."""
    target = rng.uniform(lo, hi)
    mask = np.zeros((size, size), np.uint8)
    while mask.mean() < target:
        x, y = rng.integers(size), rng.integers(size)
        width = int(rng.integers(6, 16))
        for _ in range(int(rng.integers(2, 6))):
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.integers(10, size // 2)
            nx = int(np.clip(x + length * np.cos(angle), 0, size - 1))
            ny = int(np.clip(y + length * np.sin(angle), 0, size - 1))
            cv2.line(mask, (int(x), int(y)), (nx, ny), 1, width)
            x, y = nx, ny
            if mask.mean() >= hi:
                break
    return mask.astype(bool)


# ------------------------------------------------------------------------------------- runs


def var_inpaint(choice: ModelChoice, crop: np.ndarray, mask: np.ndarray, seeds: int):
    """One image per seed through the real pipeline.

    The hole is blanked to mid-grey first and neither grown nor feathered: otherwise the true
    pixels would reach the result through the encoder's receptive field and the feathered
    blend with the "original", and the score would flatter the model.
    """
    blanked = crop.copy()
    blanked[mask] = 127
    request = InpaintRequest(
        model=choice, image=blanked, mask=mask, samples=seeds, grow_px=0, feather_px=0,
        sampling=Sampling(cfg=3.0, top_k=900, top_p=0.95, seed=0),
    )  # fmt: skip
    result = run_blocking(request)
    images = [v.image for v in result.variations]
    for image in images:  # the engine's promise: nothing outside the mask changes
        assert np.array_equal(image[~mask], crop[~mask])
    return images


def var_outpaint(choice: ModelChoice, crop: np.ndarray, extend: int, seeds: int):
    kept = crop[:, : crop.shape[1] - extend]
    request = OutpaintRequest(
        model=choice, image=kept, right=extend, samples=seeds,
        sampling=Sampling(cfg=3.0, top_k=900, top_p=0.95, seed=0),
    )  # fmt: skip
    images = [v.image for v in run_blocking(request).variations]
    for image in images:
        assert image.shape == crop.shape and np.array_equal(image[:, : kept.shape[1]], kept)
    return images


def summarise(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(array.mean()), 3), "std": round(float(array.std()), 3)}


def evaluate(
    model_dir: Path,
    n_crops: int,
    seeds: int,
    log: Callable[[str], None],
    grid_path: Path | None = None,
) -> dict:
    vae, var = str(model_dir / "vae.safetensors"), str(model_dir / "var.safetensors")
    model = load_model(vae, var)
    choice = ModelChoice.from_files(vae=vae, transformer=var)
    res = model.resolution
    photos = load_images("heldout", "photo")
    crops = heldout_crops(photos, n_crops, res, seed=EVAL_SEED)
    log(f"{len(photos)} held-out photos, {len(crops)} crops at {res} px")

    # Tokenizer --------------------------------------------------------------------------
    recon = tokenizer_roundtrip(model, crops)
    tokens = sum(pn * pn for pn in model.patch_nums)
    bits = tokens * math.log2(model.vqvae.cfg.vocab_size)
    side = int(math.sqrt(bits / 24))  # an RGB thumbnail with at most as many bits
    ids = [torch.cat(model.vqvae.encode_ids(image_to_tensor(c, model.device)), 1) for c in crops]
    used = int(torch.unique(torch.cat(ids, 1)).numel())
    tokenizer = {
        "tokens": tokens,
        "bits": round(bits),
        "vqvae_psnr": round(psnr(recon, crops), 3),
        "vqvae_ssim": round(
            float(np.mean([ssim(r, c) for r, c in zip(recon, crops, strict=True)])), 4
        ),
        f"bicubic_from_{side}px_psnr": round(
            psnr(np.stack([bicubic_from(c, side) for c in crops]), crops), 3
        ),
        f"bicubic_from_{side}px_ssim": round(
            float(np.mean([ssim(bicubic_from(c, side), c) for c in crops])), 4
        ),
        f"bicubic_from_{side}px_bits": side * side * 24,
        f"bicubic_x4_from_{res // 4}px_psnr": round(
            psnr(np.stack([bicubic_from(c, res // 4) for c in crops]), crops), 3
        ),
        "codebook_used_on_heldout": used,
        "vocab_size": model.vqvae.cfg.vocab_size,
    }
    log(f"tokenizer: {tokenizer}")

    # In-painting ------------------------------------------------------------------------
    rng = np.random.default_rng(EVAL_SEED)
    kinds = {
        "box48": lambda i: box_mask(res, 48),
        "strokes": lambda i: stroke_mask(res, rng),
        "outpaint_right25": lambda i: np.pad(
            np.zeros((res, res - res // 4), bool), ((0, 0), (0, res // 4)), constant_values=True
        ),
    }
    inpaint: dict[str, dict] = {}
    timings = []
    grid: list[np.ndarray] = []  # rows of [original, hole, VAR, Telea, blurred, oracle]
    for kind, make_mask in kinds.items():
        rows: dict[str, dict[str, list[float]]] = {}

        def add(method: str, out: np.ndarray, crop: np.ndarray, mask: np.ndarray, rows=rows):
            row = rows.setdefault(method, {"psnr": [], "ssim": [], "sharpness": []})
            if out is not crop:  # the real pixels only give the reference sharpness
                row["psnr"].append(psnr(out, crop, mask))
                row["ssim"].append(ssim(out, crop, mask))
            row["sharpness"].append(sharpness(out, mask))

        for i, crop in enumerate(crops):
            mask = make_mask(i)
            add("ground truth", crop, crop, mask)
            started = time.perf_counter()
            if kind.startswith("outpaint"):
                outs = var_outpaint(choice, crop, res // 4, seeds)
            else:
                outs = var_inpaint(choice, crop, mask, seeds)
            timings.append((time.perf_counter() - started) / seeds)
            for out in outs:
                add("VAR demo (mean of seeds)", out, crop, mask)
            holed = crop.copy()
            holed[mask] = 0
            if kind.startswith("outpaint"):
                keep = crop.shape[1] - res // 4
                holed = cv2.copyMakeBorder(
                    crop[:, :keep], 0, 0, 0, res // 4, cv2.BORDER_REPLICATE
                )  # what out-painting starts from
            add("OpenCV Telea (r=5)", telea(holed, mask), crop, mask)
            add("blurred fill", blurred_fill(holed, mask), crop, mask)
            oracle = crop.copy()
            oracle[mask] = recon[i][mask]
            add("tokenizer oracle (true tokens)", oracle, crop, mask)
            if i < 4:
                shown = crop.copy()
                shown[mask] = (shown[mask] // 3 + 170).astype(np.uint8)
                row = [crop, shown, outs[0], telea(holed, mask), blurred_fill(holed, mask), oracle]
                grid.append(np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0))) for c in row], 1))
        inpaint[kind] = {
            method: {metric: summarise(values) for metric, values in row.items() if values}
            for method, row in rows.items()
        }
        log(f"{kind}: " + json.dumps(inpaint[kind]))
    if grid_path is not None:
        cv2.imwrite(str(grid_path), cv2.cvtColor(np.concatenate(grid, 0), cv2.COLOR_RGB2BGR))
        log(f"grid (original | hole | VAR | Telea | blurred | oracle): {grid_path}")
    return {
        "heldout_photos": len(photos),
        "crops": len(crops),
        "resolution": res,
        "seeds": seeds,
        "tokenizer": tokenizer,
        "inpaint": inpaint,
        "seconds_per_inpaint_cpu": round(float(np.mean(timings)), 3),
        "sampling": {"cfg": 3.0, "top_k": 900, "top_p": 0.95},
        "inpaint_request": {"grow_px": 0, "feather_px": 0, "hole": "blanked to grey 127"},
        "outpaint_request": {"feather_px": 8, "new_area": "edge-replicated, as the app does"},
    }


def markdown(metrics: dict) -> str:
    """The tables for the model card."""
    tok = metrics["tokenizer"]
    lines = ["| tokenizer (held-out, 128 px) | PSNR dB | SSIM | bits |", "|---|---|---|---|"]
    side = next(k for k in tok if k.startswith("bicubic_from_") and k.endswith("_psnr"))
    side = side.removeprefix("bicubic_from_").removesuffix("_psnr")
    lines.append(f"| VQVAE tokens | {tok['vqvae_psnr']} | {tok['vqvae_ssim']} | {tok['bits']} |")
    lines.append(
        f"| bicubic from {side} thumbnail | {tok[f'bicubic_from_{side}_psnr']} | "
        f"{tok[f'bicubic_from_{side}_ssim']} | {tok[f'bicubic_from_{side}_bits']} |"
    )
    x4 = next(k for k in tok if k.startswith("bicubic_x4"))
    lines.append(f"| bicubic ×4 ({x4.split('_')[3]} thumbnail) | {tok[x4]} | – | – |")
    lines.append("")
    for kind, rows in metrics["inpaint"].items():
        lines += [
            f"| {kind} | hole PSNR dB | hole SSIM | sharpness (var. of Laplacian) |",
            "|---|---|---|---|",
        ]
        for method, row in rows.items():
            if "psnr" not in row:  # the ground truth: only its sharpness is meaningful
                lines.append(f"| {method} | – | – | {row['sharpness']['mean']:.0f} |")
                continue
            lines.append(
                f"| {method} | {row['psnr']['mean']:.2f} ± {row['psnr']['std']:.2f} | "
                f"{row['ssim']['mean']:.3f} | {row['sharpness']['mean']:.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "resources/models/demo")
    parser.add_argument("--crops", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="default: <model>/metrics.json")
    parser.add_argument("--grid", type=Path, default=None, help="write an example grid PNG")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    metrics = evaluate(args.model, args.crops, args.seeds, log, args.grid)
    out = args.out or args.model / "metrics.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.update({"evaluation": metrics})
    out.write_text(json.dumps(previous, indent=1))
    print(markdown(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
