"""``finescale inpaint`` and ``finescale outpaint``: file in, file(s) out, originals untouched."""

from __future__ import annotations

import argparse

from engine.api import InpaintRequest, OutpaintRequest


def _load(args: argparse.Namespace):
    from engine.imageio import load_image

    return load_image(args.image)


def _save(args: argparse.Namespace, loaded, result) -> None:
    from engine.cli import save_variations

    save_variations(
        result,
        args.out,
        icc_profile=loaded.icc_profile,
        exif=loaded.exif,
        overwrite=args.overwrite,
        source_path=args.image,
    )


def _inpaint(args: argparse.Namespace) -> None:
    from engine.cli import model_choice, print_progress, run_blocking, sampling
    from engine.imageio import load_mask

    loaded = _load(args)
    height, width = loaded.pixels.shape[:2]
    mask = load_mask(args.mask, (width, height))
    request = InpaintRequest(
        model=model_choice(args),
        image=loaded.pixels,
        mask=mask,
        class_label=args.class_label,
        samples=args.samples,
        sampling=sampling(args),
        grow_px=args.grow,
        feather_px=args.feather,
        color_match=not args.no_color_match,
        token_rule=args.token_rule,
    )
    _save(args, loaded, run_blocking(request, print_progress))


def _outpaint(args: argparse.Namespace) -> None:
    from engine.cli import model_choice, print_progress, run_blocking, sampling

    loaded = _load(args)
    request = OutpaintRequest(
        model=model_choice(args),
        image=loaded.pixels,
        left=args.left,
        right=args.right,
        top=args.top,
        bottom=args.bottom,
        class_label=args.class_label,
        samples=args.samples,
        sampling=sampling(args),
        feather_px=args.feather,
        color_match=not args.no_color_match,
    )
    _save(args, loaded, run_blocking(request, print_progress))


def add_edit_parsers(commands) -> None:
    from engine.cli import add_model_arguments, add_sampling_arguments

    for name, handler, help_text in (
        ("inpaint", _inpaint, "regenerate the masked area of an image"),
        ("outpaint", _outpaint, "extend an image on any side"),
    ):
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument("--image", required=True)
        if name == "inpaint":
            parser.add_argument("--mask", required=True, help="white/opaque = regenerate")
            parser.add_argument("--grow", type=int, default=4, help="grow the mask (px)")
            parser.add_argument(
                "--token-rule", choices=("strict", "reference"), default="strict",
                help="strict: any masked pixel regenerates its token; reference: VAR notebook",
            )  # fmt: skip
        else:
            for side in ("left", "right", "top", "bottom"):
                parser.add_argument(f"--{side}", type=int, default=0, help="pixels to add")
        parser.add_argument("--out", required=True)
        add_model_arguments(parser)
        parser.add_argument("--class", dest="class_label", type=int, default=1000)
        add_sampling_arguments(parser, cfg=3.0, top_p=0.95)
        parser.add_argument("--feather", type=int, default=8, help="seam feather (px)")
        parser.add_argument("--no-color-match", action="store_true")
        parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
        parser.set_defaults(handler=handler)
