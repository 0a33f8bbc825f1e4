"""``finescale`` command line: the same engine and requests as the GUI, no Qt."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Sequence

from engine.api import (
    TERMINAL_EVENTS,
    Event,
    GenerateRequest,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobResult,
    ModelChoice,
    ModelLoading,
    Request,
    Sampling,
    ScaleProgress,
)
from engine.runtime.cancel import UserFacingError


def run_blocking(request: Request, on_event: Callable[[Event], None] | None = None) -> JobResult:
    """Submit one request to a fresh engine and wait for its end; Ctrl+C cancels it."""
    from engine.runtime.jobs import Engine

    done = threading.Event()
    outcome: list[Event] = []

    def sink(event: Event) -> None:
        if on_event is not None:
            on_event(event)
        if isinstance(event, TERMINAL_EVENTS):
            outcome.append(event)
            done.set()

    engine = Engine(sink=sink)
    job_id = engine.submit(request)
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        engine.cancel(job_id)
        done.wait()
    finally:
        engine.shutdown()
    event = outcome[0]
    if isinstance(event, JobFinished):
        return event.result
    if isinstance(event, JobFailed):
        raise UserFacingError(event.message)
    assert isinstance(event, JobCancelled)
    raise UserFacingError("Cancelled.")


def print_progress(event: Event) -> None:
    if isinstance(event, ScaleProgress):
        sample = f"sample {event.sample_index + 1}/{event.num_samples} " * (event.num_samples > 1)
        print(f"{sample}scale {event.scale_index + 1}/{event.num_scales}", file=sys.stderr)
    elif isinstance(event, ModelLoading) and event.bytes_done == event.bytes_total:
        print(f"loaded {event.name}", file=sys.stderr)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="registry id, e.g. var-d16 or demo (default: demo)")
    parser.add_argument("--vae", help="VQVAE checkpoint file (.pth or .safetensors)")
    parser.add_argument("--var", help="VAR transformer checkpoint file")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"))


def add_sampling_arguments(parser: argparse.ArgumentParser, cfg: float, top_p: float) -> None:
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cfg", type=float, default=cfg)
    parser.add_argument("--top-k", type=int, default=900)
    parser.add_argument("--top-p", type=float, default=top_p)
    parser.add_argument("--smooth", action="store_true", help="Gumbel-smoothed sampling")
    parser.add_argument("--samples", type=int, default=1)


def model_choice(args: argparse.Namespace) -> ModelChoice:
    if bool(args.vae) != bool(args.var):
        raise UserFacingError("Give both --vae and --var, or use --model.")
    return ModelChoice(
        model_id=args.model, vae_path=args.vae, var_path=args.var, device=args.device,
        dtype=args.dtype,
    )  # fmt: skip


def sampling(args: argparse.Namespace) -> Sampling:
    return Sampling(
        cfg=args.cfg, top_k=args.top_k, top_p=args.top_p, smooth=args.smooth, seed=args.seed
    )


def save_variations(result: JobResult, out: str, **save_kwargs) -> list[str]:
    from engine.imaging.imageio import numbered_paths, save_image

    paths = numbered_paths(out, len(result.variations))
    for variation, path in zip(result.variations, paths, strict=True):
        save_image(variation.image, path, **save_kwargs)
        print(path)
    return paths


def _generate(args: argparse.Namespace) -> None:
    request = GenerateRequest(
        model=model_choice(args),
        class_label=args.class_label,
        samples=args.samples,
        sampling=sampling(args),
    )
    result = run_blocking(request, print_progress)
    save_variations(result, args.out, overwrite=args.overwrite)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finescale", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="class-conditional generation")
    add_model_arguments(gen)
    gen.add_argument("--class", dest="class_label", type=int, default=1000, help="0-999, 1000=any")
    add_sampling_arguments(gen, cfg=1.5, top_p=0.96)
    gen.add_argument("--out", required=True, help="output PNG (suffix _1.._N with --samples)")
    gen.add_argument("--overwrite", action="store_true")
    gen.set_defaults(handler=_generate)

    for register in _optional_commands():
        register(commands)
    return parser


def _optional_commands():
    """Sub-commands that live in their own modules."""
    from engine.cli.edit import add_edit_parsers
    from engine.cli.models import add_models_parser

    yield add_edit_parsers
    yield add_models_parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
