"""``finescale inpaint`` and ``finescale outpaint``: file in, file(s) out, originals untouched."""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass

from engine.api import InpaintRequest, OutpaintRequest
from engine.capabilities import task_defaults
from engine.cli.common import (
    Given,
    add_model_arguments,
    add_sampling_arguments,
    add_text_model_arguments,
    chosen,
    plan_outputs,
    print_progress,
    run_blocking,
    sampling,
    save_variations,
    text_model_choice,
)
from engine.runtime.cancel import UserFacingError


@dataclass(frozen=True)
class Extension:
    """How far to extend one side: pixels, or a percentage of the image's width/height."""

    value: float
    percent: bool

    def pixels(self, length: int) -> int:
        return round(self.value * length / 100) if self.percent else int(self.value)


def parse_extension(text: str) -> Extension:
    """``256`` (pixels) or ``25%`` (of the width for left/right, of the height for top/bottom)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%?)\s*", text)
    if not match or (not match[2] and "." in match[1]):
        raise argparse.ArgumentTypeError(f"'{text}' is not a pixel count or a percentage like 25%")
    return Extension(float(match[1]), bool(match[2]))


def _load(args: argparse.Namespace):
    """The source image; conversions it needed (16-bit, CMYK, palette...) are said on stderr."""
    from engine.imaging.imageio import load_image

    loaded = load_image(args.image)
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    return loaded


def _inputs(args: argparse.Namespace) -> tuple[str, ...]:
    """Files this command reads: never a valid output, whatever ``--overwrite`` says."""
    return tuple(p for p in (args.image, getattr(args, "mask", None)) if p)


def _save(args: argparse.Namespace, loaded, result) -> None:
    save_variations(
        result,
        args.out,
        icc_profile=loaded.icc_profile,
        exif=loaded.exif,
        overwrite=args.overwrite,
        protected=_inputs(args),
    )


def _inpaint(args: argparse.Namespace) -> None:
    from engine.imaging.imageio import load_mask

    plan_outputs(args, *_inputs(args))
    loaded = _load(args)
    height, width = loaded.pixels.shape[:2]
    mask = load_mask(args.mask, (width, height))
    if not mask.any():
        raise UserFacingError(
            f"{os.path.basename(args.mask)}: the mask is empty (no white or opaque pixel), "
            "so there is nothing to regenerate."
        )
    choice, family = text_model_choice(args)
    defaults = task_defaults(family or "var", "inpaint")
    request = InpaintRequest(
        model=choice,
        image=loaded.pixels,
        mask=mask,
        class_label=args.class_label,
        samples=args.samples,
        sampling=sampling(args, family, "inpaint"),
        grow_px=chosen(args, "grow", defaults.grow_px),
        feather_px=chosen(args, "feather", defaults.feather_px),
        color_match=not args.no_color_match,
        token_rule=args.token_rule,
        prompt=args.prompt,
    )
    _save(args, loaded, run_blocking(request, print_progress))


def _outpaint(args: argparse.Namespace) -> None:
    plan_outputs(args, *_inputs(args))
    loaded = _load(args)
    height, width = loaded.pixels.shape[:2]
    choice, family = text_model_choice(args)
    request = OutpaintRequest(
        model=choice,
        image=loaded.pixels,
        left=args.left.pixels(width),
        right=args.right.pixels(width),
        top=args.top.pixels(height),
        bottom=args.bottom.pixels(height),
        class_label=args.class_label,
        samples=args.samples,
        sampling=sampling(args, family, "outpaint"),
        feather_px=chosen(args, "feather", task_defaults(family or "var", "outpaint").feather_px),
        color_match=not args.no_color_match,
        prompt=args.prompt,
    )
    _save(args, loaded, run_blocking(request, print_progress))


def add_edit_parsers(commands) -> None:
    for name, handler, help_text in (
        ("inpaint", _inpaint, "regenerate the masked area of an image"),
        ("outpaint", _outpaint, "extend an image on any side"),
    ):
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument("--image", required=True)
        if name == "inpaint":
            parser.add_argument("--mask", required=True, help="white/opaque = regenerate")
            parser.add_argument(
                "--grow", type=int, default=task_defaults("var", name).grow_px, action=Given,
                help="grow the mask (px)",
            )  # fmt: skip
            parser.add_argument(
                "--token-rule", choices=("strict", "reference"), default="strict",
                help="strict: any masked pixel regenerates its token; reference: VAR notebook",
            )  # fmt: skip
        else:
            for side in ("left", "right", "top", "bottom"):
                parser.add_argument(
                    f"--{side}", type=parse_extension, default=Extension(0, False),
                    help="pixels to add, or a percentage of the image like 25%%",
                )  # fmt: skip
        parser.add_argument("--out", required=True)
        add_model_arguments(parser)
        parser.add_argument("--class", dest="class_label", type=int, default=1000)
        add_sampling_arguments(parser, name)
        parser.add_argument(
            "--feather", type=int, default=task_defaults("var", name).feather_px, action=Given,
            help="seam feather (px)",
        )  # fmt: skip
        add_text_model_arguments(parser)
        parser.add_argument("--no-color-match", action="store_true")
        parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
        parser.set_defaults(handler=handler)
