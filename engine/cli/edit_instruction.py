"""``finescale edit``: edit a picture by a text instruction (VAREdit), optionally in a mask.

``--seed/--cfg/--tau`` are the reference's ``g_seed/cfg_list/tau_list`` (the same value at every
scale); the output is the reference's truncated uint8 image at the input's size (pixels outside
``--mask``'s grown area untouched).
"""

from __future__ import annotations

import argparse
import sys

from engine.api import EditRequest, ModelChoice, Sampling
from engine.capabilities import task_defaults
from engine.cli.common import print_progress, run_blocking, save_variations
from engine.runtime.cancel import UserFacingError

RESOLUTIONS = (256, 512, 1024)


def patch_nums(resolution: int | None) -> tuple[int, ...] | None:
    """Token sides of the reference's square schedule: 0.06M / 0.25M / 1M."""
    if resolution is None:
        return None
    from engine.models.infinity.config import square_schedule

    return tuple(h for h, _ in square_schedule(resolution))


def edit_model_choice(args: argparse.Namespace) -> ModelChoice:
    files = {"transformer": args.transformer, "vae": args.vae, "text_encoder": args.text_encoder}
    given = {role: path for role, path in files.items() if path}
    placement = {
        "device": args.device,
        "dtype": args.dtype,
        "patch_nums": patch_nums(args.resolution),
    }
    if given:
        if len(given) != len(files):
            raise UserFacingError(
                "Give --transformer, --vae and --text-encoder together, or --model."
            )
        return ModelChoice.from_files(family="varedit", **given, **placement)
    if not args.model:
        raise UserFacingError(
            "Choose a model: --model ID, or --transformer, --vae and --text-encoder."
        )
    return ModelChoice(model_id=args.model, **placement)


def _edit(args: argparse.Namespace) -> None:
    from engine.imaging.imageio import load_image, load_mask

    loaded = load_image(args.image)
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    height, width = loaded.pixels.shape[:2]
    mask = load_mask(args.mask, (width, height)) if args.mask else None
    request = EditRequest(
        model=edit_model_choice(args),
        image=loaded.pixels,
        instruction=args.instruction,
        mask=mask,
        grow_px=args.grow,
        feather_px=args.feather,
        samples=args.samples,
        sampling=Sampling(
            cfg=args.cfg, top_k=args.top_k, top_p=args.top_p, tau=args.tau, seed=args.seed
        ),
    )
    save_variations(
        run_blocking(request, print_progress),
        args.out,
        icc_profile=loaded.icc_profile,
        exif=loaded.exif,
        overwrite=args.overwrite,
        source_path=args.image,
    )


def add_edit_instruction_parser(commands) -> None:
    defaults = task_defaults("varedit", "edit")
    parser = commands.add_parser("edit", help="edit an image by a text instruction (VAREdit)")
    parser.add_argument("--image", required=True)
    parser.add_argument("--instruction", required=True, help="e.g. 'make the sky stormy'")
    parser.add_argument("--out", required=True, help="output image (suffix _1.._N with --samples)")
    parser.add_argument("--mask", help="limit the edit: white/opaque = may change")
    parser.add_argument("--grow", type=int, default=defaults.grow_px, help="grow the mask (px)")
    parser.add_argument("--feather", type=int, default=defaults.feather_px, help="seam (px)")
    parser.add_argument("--model", help="registry id of an installed VAREdit model")
    parser.add_argument("--transformer", help="VAREdit transformer (.pth or .safetensors)")
    parser.add_argument("--vae", help="Infinity BSQ VAE (.pth or .safetensors)")
    parser.add_argument("--text-encoder", help="T5 model folder (google/flan-t5-xl)")
    parser.add_argument("--resolution", type=int, choices=RESOLUTIONS, help="default: 512")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--seed", type=int, default=0, help="the reference's g_seed")
    parser.add_argument("--cfg", type=float, default=defaults.sampling.cfg)
    parser.add_argument("--tau", type=float, default=defaults.sampling.tau)
    parser.add_argument("--top-k", type=int, default=defaults.sampling.top_k)
    parser.add_argument("--top-p", type=float, default=defaults.sampling.top_p)
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(handler=_edit)
