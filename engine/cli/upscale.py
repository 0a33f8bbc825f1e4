"""``finescale upscale``: super-resolution of image files (VARSR, zero-shot on any model, Lanczos).

Kept in separate steps so the batch command can reuse them: :func:`expand_inputs` turns files
and folders into a file list, :func:`output_path` names each result, :func:`upscale_file` runs
one file and :func:`save_upscaled` writes it with the source's ICC profile and EXIF kept
(orientation already applied to the pixels, so it is reset to upright).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable

from engine.api import ModelChoice, UpscaleRequest
from engine.runtime.cancel import UserFacingError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif")


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Files as given, folders as their image files (sorted, not recursive); order kept."""
    files: list[str] = []
    for item in inputs:
        if os.path.isdir(item):
            names = sorted(n for n in os.listdir(item) if n.lower().endswith(IMAGE_SUFFIXES))
            files.extend(os.path.join(item, n) for n in names)
        elif os.path.isfile(item):
            files.append(item)
        else:
            raise UserFacingError(f"{item}: no such file or folder.")
    if not files:
        raise UserFacingError("No images to upscale in the given inputs.")
    return files


def output_path(source: str, out_dir: str, label: str) -> str:
    """``<out>/<stem>_<label><ext>`` (PNG when the source format cannot be written)."""
    from engine.imaging.imageio import SAVE_FORMATS

    stem, ext = os.path.splitext(os.path.basename(source))
    ext = ext.lower() if ext.lower() in SAVE_FORMATS else ".png"
    return os.path.join(out_dir, f"{stem}_{label}{ext}")


def model_choice(args: argparse.Namespace) -> ModelChoice | None:
    """None for ``--fast``; VARSR or VAR explicit files are told apart by their tensors."""
    if args.fast:
        return None
    if bool(args.transformer) != bool(args.vae):
        raise UserFacingError("Give both --transformer and --vae, or use --model.")
    if args.transformer:
        from engine.store.varsr import is_varsr_checkpoint

        family = "varsr" if is_varsr_checkpoint(args.transformer) else "var"
        return ModelChoice.from_files(
            family,
            vae=args.vae,
            transformer=args.transformer,
            device=args.device,
            dtype=args.dtype,
        )
    return ModelChoice(model_id=args.model or "demo", device=args.device, dtype=args.dtype)


def upscale_file(path: str, args: argparse.Namespace, choice: ModelChoice | None, cache):
    """Load, upscale and return ``(result, loaded source)``; progress goes to stderr."""
    from engine.imaging.imageio import load_image
    from engine.pipelines.upscale import cache_provider, plan_request, run_upscale

    loaded = load_image(path)
    request = UpscaleRequest(
        image=loaded.pixels,
        scale=args.scale,
        model=choice,
        fidelity=args.fidelity,
        seed=args.seed,
        tile=args.tile,
    )
    provider = None if choice is None else cache_provider(cache, choice)
    if provider is not None:
        print(
            f"{os.path.basename(path)}: {plan_request(request, provider(None)).summary()}",
            file=sys.stderr,
        )

    def progress(done: int, total: int, _preview) -> None:
        print(f"{os.path.basename(path)}: tile {done}/{total}", file=sys.stderr)

    return run_upscale(request, provider, progress), loaded


def save_upscaled(pixels, loaded, path: str, overwrite: bool = False) -> str:
    from engine.imaging.imageio import save_image

    save_image(
        pixels,
        path,
        icc_profile=loaded.icc_profile,
        exif=loaded.exif,
        overwrite=overwrite,
        source_path=loaded.path,
    )
    return path


def _upscale(args: argparse.Namespace) -> None:
    from engine.store.cache import ModelCache

    files = expand_inputs(args.inputs)
    os.makedirs(args.out, exist_ok=True)
    choice, cache = model_choice(args), ModelCache()
    failed = []
    for path in files:
        try:
            result, loaded = upscale_file(path, args, choice, cache)
            target = output_path(path, args.out, f"x{args.scale}")
            print(save_upscaled(result.image, loaded, target, args.overwrite))
        except UserFacingError as exc:
            failed.append(f"{os.path.basename(path)}: {exc}")
            print(f"error: {exc}", file=sys.stderr)
    if failed:
        raise UserFacingError(f"{len(failed)} of {len(files)} file(s) failed: " + "; ".join(failed))


def add_upscale_parser(commands) -> None:
    up = commands.add_parser("upscale", help="super-resolution x2/x3/x4")
    up.add_argument("inputs", nargs="+", help="image files or folders")
    up.add_argument("--scale", type=int, choices=(2, 3, 4), default=4)
    up.add_argument("--out", required=True, help="output folder")
    up.add_argument("--model", help="registry id (default: demo)")
    up.add_argument(
        "--transformer", help="transformer checkpoint (VARSR.pth, VAR .pth/.safetensors)"
    )
    up.add_argument("--vae", help="its VQVAE checkpoint (VQVAE.pth, ...)")
    up.add_argument(
        "--fidelity", type=int, help="coarse scales taken from the input (default: auto)"
    )
    up.add_argument("--seed", type=int, default=0)
    up.add_argument("--tile", type=int, help="window side in output pixels (default: the model's)")
    up.add_argument("--fast", action="store_true", help="Lanczos resize, no model")
    up.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    up.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"))
    up.add_argument("--overwrite", action="store_true")
    up.set_defaults(handler=_upscale)
