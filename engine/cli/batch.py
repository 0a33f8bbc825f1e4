"""``finescale upscale``: upscale files and folders into an output folder (one file = a batch of 1).

The model is VARSR, or any VAR model zero-shot (default: the demo model); ``--fast`` is the
classical Lanczos resize, which needs no model.

Progress is a bar on a terminal and one plain line per file otherwise; the summary names every
file that failed and why, and the exit status is 0 only when every file succeeded.
"""

from __future__ import annotations

import argparse
import os
import sys

from engine.api import (
    OUTPUT_FORMATS,
    OVERWRITE_RULES,
    BatchItemProgress,
    BatchPlanned,
    BatchProgress,
    BatchRequest,
    BatchSummary,
    Event,
    ModelChoice,
    UpscaleTarget,
)
from engine.cli.common import run_blocking
from engine.runtime.cancel import UserFacingError
from engine.runtime.progress import format_eta

BAR_WIDTH = 24


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N, e.g. 1/4") from None
    if not (n >= 1 and 1 <= k <= n):
        raise argparse.ArgumentTypeError(f"{text}: K must be between 1 and N")
    return k, n


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and folders")
    parser.add_argument("--out", required=True, help="output folder (made if missing)")
    size = parser.add_argument_group("size (default ×4)")
    size.add_argument("--scale", type=int, choices=(2, 3, 4), help="factor")
    size.add_argument("--width", type=int, help="output width (keeps the aspect ratio)")
    size.add_argument("--height", type=int, help="output height (keeps the aspect ratio)")
    size.add_argument("--long-side", type=int, help="limit of the long side, in pixels")
    parser.add_argument("--recursive", "-r", action="store_true", help="walk sub-folders")
    parser.add_argument("--fast", action="store_true", help="Lanczos resize, no model")
    parser.add_argument("--model", help="registry id (default: demo)")
    parser.add_argument("--transformer", help="VARSR.pth, or a VAR .pth/.safetensors")
    parser.add_argument("--vae", help="its VQVAE checkpoint (VQVAE.pth, ...)")
    parser.add_argument("--fidelity", type=int, help="coarse scales taken from the input")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tile", type=int, help="window side in output pixels")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--format", default="same", choices=OUTPUT_FORMATS)
    parser.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality 1-100")
    parser.add_argument("--template", default="{name}_x{scale}.{ext}", help="output file name")
    parser.add_argument("--overwrite", default="skip", choices=OVERWRITE_RULES)
    parser.add_argument("--shard", type=_shard, default=(1, 1), help="K/N: every N-th input")


def _model(args: argparse.Namespace) -> ModelChoice | None:
    if bool(args.vae) != bool(args.transformer):
        raise UserFacingError("Give both --transformer and --vae, or use --model.")
    chosen = bool(args.model or args.vae)
    if args.fast and chosen:
        raise UserFacingError("--fast needs no model; drop --model/--transformer/--vae.")
    if args.fast:
        return None
    if args.vae:
        from engine.store.varsr import is_varsr_checkpoint  # reads tensor names: torch

        family = "varsr" if is_varsr_checkpoint(args.transformer) else "var"
        return ModelChoice.from_files(
            family, vae=args.vae, transformer=args.transformer, device=args.device,
            dtype=args.dtype,
        )  # fmt: skip
    return ModelChoice(model_id=args.model or "demo", device=args.device, dtype=args.dtype)


def batch_request(args: argparse.Namespace) -> BatchRequest:
    sized = args.width or args.height or args.long_side
    target = UpscaleTarget(
        scale=args.scale or (None if sized else 4),
        width=args.width,
        height=args.height,
        max_long_side=args.long_side,
    )
    return BatchRequest(
        inputs=tuple(args.inputs),
        output_dir=args.out,
        target=target,
        model=_model(args),
        recursive=args.recursive,
        template=args.template,
        format=args.format,
        quality=args.quality,
        overwrite=args.overwrite,
        shard=args.shard,
        fidelity=args.fidelity,
        seed=args.seed,
        tile=args.tile,
    )


class Reporter:
    """Prints batch events: a redrawn bar on a terminal, plain lines otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.summary: BatchSummary | None = None
        self._overall = (0, 0, "")

    def __call__(self, event: Event) -> None:
        if isinstance(event, BatchPlanned):
            for path, reason in event.passed_over:
                self._line(f"passed over {path}: {reason}")
            self._line(f"{len(event.items)} files -> {event.output_dir}")
        elif isinstance(event, BatchItemProgress):
            self._item(event)
        elif isinstance(event, BatchProgress):
            self._overall = (event.finished, event.total, format_eta(event.eta_s))
        elif isinstance(event, BatchSummary):
            self.summary = event

    def _item(self, event: BatchItemProgress) -> None:
        name = os.path.basename(event.source)
        count = f"{event.index + 1}/{event.total}"
        if event.state == "running":
            if self.tty:
                self._bar(event, name)
            return
        text = {"done": f"-> {event.output}", "skipped": f"skipped: {event.reason}"}
        self._line(f"{count} {name} {text.get(event.state, f'FAILED: {event.reason}')}")

    def _bar(self, event: BatchItemProgress, name: str) -> None:
        overall = (event.index + event.fraction) / max(1, event.total)
        filled = round(overall * BAR_WIDTH)
        eta = self._overall[2]
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        text = f"[{bar}] {event.index}/{event.total} {name} {event.fraction:4.0%} {eta}"
        self.stream.write("\r" + text[:110].ljust(110))
        self.stream.flush()

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + " " * 110 + "\r")
        print(text, file=self.stream, flush=True)

    def print_summary(self) -> None:
        s = self.summary
        if s is None:
            return
        self._line(
            f"{len(s.done)} done, {len(s.skipped)} skipped, {len(s.failed)} failed "
            f"in {s.elapsed_s:.1f} s; output folder: {s.output_dir}"
        )
        for _source, reason in s.failed:
            self._line(f"failed: {reason}")
        if s.stopped:
            self._line(f"stopped: {s.stopped}")


def run_batch(args: argparse.Namespace) -> None:
    """Run the batch; raise ``UserFacingError`` (exit status 1) unless every file succeeded."""
    reporter = Reporter()
    run_blocking(batch_request(args), reporter)
    reporter.print_summary()
    summary = reporter.summary
    if summary is not None and not (summary.done or summary.skipped or summary.failed):
        hint = "" if args.recursive else " (add --recursive for sub-folders)"
        raise UserFacingError(f"No pictures found in the inputs{hint}.")
    if summary is None or not summary.all_succeeded:
        failed = len(summary.failed) if summary else 0
        raise UserFacingError(f"{failed} file(s) failed; see the list above.")


def add_upscale_parser(commands) -> None:
    parser = commands.add_parser("upscale", help="upscale files and folders (batch)")
    add_batch_arguments(parser)
    parser.set_defaults(handler=run_batch)
