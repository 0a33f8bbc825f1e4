"""Honest x4 super-resolution figures on photos no Finescale model was trained on.

The demo model's held-out photos (``resources/models/demo/data_manifest.json``, split
"heldout") are fetched from their pinned open-licensed sources (Debian packages through
apt-get, the scikit-image wheel through pip), checked against the manifest's sha256, shrunk
like the training data (short side 512), centre-cropped to ``--crop`` pixels (HR), downscaled
x4 (bicubic, antialiased) and upscaled back x4 by each method. Metrics against HR, on luma
(BT.601), 4-pixel border ignored: PSNR, SSIM (Gaussian window 11, sigma 1.5) and sharpness =
variance of the Laplacian relative to HR's (1.0 = as much fine detail as the original; it
rewards noise as well as detail, so read it next to PSNR/SSIM).

No learned upscaler with its weights inside a registry package was found (Debian has no
waifu2x/Real-ESRGAN package; the PyPI ones download weights from a hub at run time), so the
baselines are bicubic and Lanczos. Usage:
    python benchmarks/upscale_quality.py [--crop 192] [--fidelities 0 1 ... 8] [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "resources" / "models" / "demo" / "data_manifest.json"
DEBS = {"lomiri-wallpapers-16.04": "20.04.0-2", "palapeli-data": "4:22.12.3-1"}
WHEEL = ("scikit-image", "0.26.0")
SCALE = 4


def cache_dir() -> Path:
    root = os.environ.get("FINESCALE_DEMO_DATA")
    path = (Path(root) if root else Path.home() / ".cache" / "finescale-demo-data") / "sr-heldout"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _deb_file(cache: Path, package: str, version: str, inner: str) -> bytes:
    unpacked = cache / package
    if not unpacked.exists():
        debs = cache / "debs"
        debs.mkdir(exist_ok=True)
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=debs, check=True)
        deb = next(debs.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    return (unpacked / inner).read_bytes()


def _wheel_file(cache: Path, inner: str) -> bytes:
    name, version = WHEEL
    wheels = sorted(cache.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        subprocess.run(command + ["-d", str(cache), f"{name}=={version}"], check=True)
        wheels = sorted(cache.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    with zipfile.ZipFile(wheels[0]) as archive:
        return archive.read(inner)


def heldout_photos() -> dict[str, np.ndarray]:
    """Held-out photos by name, sha256-checked, shrunk to a 512-pixel short side."""
    cache = cache_dir()
    entries = [e for e in json.loads(MANIFEST.read_text())["images"] if e["split"] == "heldout"]
    photos = {}
    for entry in entries:
        if entry["package"] in DEBS:
            data = _deb_file(cache, entry["package"], DEBS[entry["package"]], entry["source_path"])
        else:
            data = _wheel_file(cache, entry["source_path"])
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise SystemExit(f"{entry['source_path']}: sha256 differs from the manifest")
        rgb = Image.open(io.BytesIO(data)).convert("RGB")
        factor = 512 / min(rgb.size)
        if factor < 1:
            rgb = rgb.resize((round(rgb.width * factor), round(rgb.height * factor)), Image.BOX)
        photos[Path(entry["source_path"]).stem] = np.asarray(rgb)
    return photos


def centre_crop(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    top, left = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(rgb[top : top + side, left : left + side])


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a - b) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def _gauss(x: np.ndarray, sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    x = np.apply_along_axis(lambda r: np.convolve(r, k, mode="valid"), 1, x)
    return np.apply_along_axis(lambda c: np.convolve(c, k, mode="valid"), 0, x)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _gauss(a), _gauss(b)
    var_a = _gauss(a * a) - mu_a**2
    var_b = _gauss(b * b) - mu_b**2
    cov = _gauss(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    return float(np.mean(num / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))))


def laplacian_var(y: np.ndarray) -> float:
    lap = -4 * y[1:-1, 1:-1] + y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:]
    return float(lap.var())


def metrics(out: np.ndarray, hr: np.ndarray, border: int = 4) -> dict[str, float]:
    y_out, y_hr = (
        luma(out)[border:-border, border:-border],
        luma(hr)[border:-border, border:-border],
    )
    return {
        "psnr": psnr(y_out, y_hr),
        "ssim": ssim(y_out, y_hr),
        "sharpness": laplacian_var(y_out) / laplacian_var(y_hr),
    }


def run(crop: int, fidelities: list[int]) -> dict:
    sys.path.insert(0, str(ROOT))
    import torch

    from engine.api import ModelChoice, UpscaleRequest
    from engine.pipelines.upscale import cache_provider, default_fidelity, run_upscale
    from engine.store.cache import ModelCache

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    cache, demo = ModelCache(), ModelChoice(model_id="demo")
    provider = cache_provider(cache, demo)
    rows: dict[str, list[dict]] = {}
    for name, photo in heldout_photos().items():
        hr = centre_crop(photo, crop)
        lr = np.asarray(Image.fromarray(hr).resize((crop // SCALE,) * 2, Image.BICUBIC))
        results = {
            "bicubic": np.asarray(Image.fromarray(lr).resize((crop, crop), Image.BICUBIC)),
            "lanczos": np.asarray(Image.fromarray(lr).resize((crop, crop), Image.LANCZOS)),
        }
        seconds = {}
        for fidelity in fidelities:
            start = time.perf_counter()
            request = UpscaleRequest(image=lr, scale=SCALE, model=demo, fidelity=fidelity)
            results[f"demo F={fidelity}"] = run_upscale(request, provider).image
            seconds[f"demo F={fidelity}"] = time.perf_counter() - start
        for method, out in results.items():
            row = {"photo": name, **metrics(out, hr), "seconds": seconds.get(method, 0.0)}
            rows.setdefault(method, []).append(row)
        print(f"{name}: done", file=sys.stderr, flush=True)
    summary = {
        method: {
            k: float(np.mean([r[k] for r in entries]))
            for k in ("psnr", "ssim", "sharpness", "seconds")
        }
        for method, entries in rows.items()
    }
    auto = default_fidelity(cache.get(demo), SCALE)
    return {"crop": crop, "scale": SCALE, "auto_fidelity": auto, "mean": summary, "rows": rows}


def seams(crop: int) -> dict:
    """Seam energy (border / rest, see ``engine.imaging.tiles.seam_energy``) and PSNR of the
    demo model at its default fidelity, windows teacher-forced on their neighbours or not."""
    sys.path.insert(0, str(ROOT))
    from engine.api import ModelChoice, UpscaleRequest
    from engine.imaging.tiles import TileLayout, seam_energy
    from engine.pipelines.upscale import cache_provider, run_upscale
    from engine.store.cache import ModelCache

    cache, demo = ModelCache(), ModelChoice(model_id="demo")
    provider = cache_provider(cache, demo)
    out: dict[str, list[dict]] = {"neighbours": [], "independent": []}
    for name, photo in heldout_photos().items():
        hr = centre_crop(photo, crop)
        lr = np.asarray(Image.fromarray(hr).resize((crop // SCALE,) * 2, Image.BICUBIC))
        for mode in out:
            request = UpscaleRequest(
                image=lr, scale=SCALE, model=demo, neighbours=mode == "neighbours"
            )
            result = run_upscale(request, provider)
            border, rest = seam_energy(result.image, TileLayout(crop, crop, 128, 32))
            out[mode].append(
                {
                    "photo": name,
                    "seam_ratio": border / rest,
                    "psnr": metrics(result.image, hr)["psnr"],
                }
            )
    return {
        mode: {k: float(np.mean([r[k] for r in rows])) for k in ("seam_ratio", "psnr")}
        for mode, rows in out.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crop", type=int, default=192, help="HR crop side (multiple of 4)")
    parser.add_argument("--fidelities", type=int, nargs="+", default=list(range(9)))
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--seams", type=int, metavar="CROP", help="only the seam comparison")
    args = parser.parse_args(argv)
    if args.seams:
        for mode, m in seams(args.seams).items():
            print(f"{mode:<12} seam ratio {m['seam_ratio']:.3f}  PSNR-Y {m['psnr']:.2f}")
        return 0
    report = run(args.crop, args.fidelities)
    print(
        f"x{SCALE}, {args.crop}px held-out crops; demo default fidelity {report['auto_fidelity']}"
    )
    print(f"{'method':<14} {'PSNR-Y':>7} {'SSIM-Y':>7} {'sharp':>6} {'s/img':>6}")
    for method, m in report["mean"].items():
        print(
            f"{method:<14} {m['psnr']:7.2f} {m['ssim']:7.4f} {m['sharpness']:6.2f} "
            f"{m['seconds']:6.1f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
