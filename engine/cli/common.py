"""What every ``finescale`` command shares: run one request, print progress, model and
sampling arguments read from the capability table, saving results."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Sequence

from engine.api import (
    TERMINAL_EVENTS,
    Event,
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
from engine.capabilities import task_defaults
from engine.runtime.cancel import UserFacingError


def run_blocking(request: Request, on_event: Callable[[Event], None] | None = None) -> JobResult:
    """Submit one request to a fresh engine and wait for its end; Ctrl+C cancels it."""
    from engine.pipelines.validation import validate_request

    validate_request(request)  # before torch is even imported
    from engine.service import create_engine  # torch and the models: only when a job runs

    done = threading.Event()
    outcome: list[Event] = []

    def sink(event: Event) -> None:
        if on_event is not None:
            on_event(event)
        if isinstance(event, TERMINAL_EVENTS):
            outcome.append(event)
            done.set()

    engine = create_engine(sink=sink, previews=False)  # nobody sees them in a terminal
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
        window = f"window {event.window_index + 1}/{event.num_windows} " * (event.num_windows > 1)
        scale = f"scale {event.scale_index + 1}/{event.num_scales}"
        print(f"{sample}{window}{scale} ({event.done}/{event.total})", file=sys.stderr)
    elif isinstance(event, ModelLoading) and event.bytes_done == event.bytes_total:
        print(f"loaded {event.name}", file=sys.stderr)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="registry id, e.g. var-d16 or demo (default: demo)")
    parser.add_argument("--vae", help="VQVAE checkpoint file (.pth or .safetensors)")
    parser.add_argument("--var", help="VAR transformer checkpoint file")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the blocks (pays on some GPUs only)"
    )


def add_sampling_arguments(parser: argparse.ArgumentParser, task: str) -> None:
    """Sampler flags whose defaults are the capability table's for ``task``."""
    defaults = task_defaults("var", task).sampling
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cfg", type=float, default=defaults.cfg)
    parser.add_argument("--top-k", type=int, default=defaults.top_k)
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--smooth", action="store_true", help="Gumbel-smoothed sampling")
    parser.add_argument("--samples", type=int, default=1)
    faster = parser.add_argument_group(
        "faster, approximate (off by default; measured in benchmarks/RESULTS.md)"
    )
    faster.add_argument(
        "--cfg-skip-last",
        type=int,
        default=0,
        metavar="N",
        help="run the last N scales without guidance (SkipVAR)",
    )
    faster.add_argument(
        "--prune",
        type=float,
        default=0.0,
        metavar="RATIO",
        help="skip this share of tokens in the 2 largest scales (FastVAR)",
    )
    faster.add_argument(
        "--kv-budget",
        type=float,
        default=None,
        metavar="SHARE",
        help="keep this share of the KV cache on the large scales (ScaleKV)",
    )


def model_choice(args: argparse.Namespace) -> ModelChoice:
    if bool(args.vae) != bool(args.var):
        raise UserFacingError("Give both --vae and --var, or use --model.")
    if args.vae:
        return ModelChoice.from_files(
            vae=args.vae,
            transformer=args.var,
            device=args.device,
            dtype=args.dtype,
            compile=args.compile,
        )
    return ModelChoice(
        model_id=args.model, device=args.device, dtype=args.dtype, compile=args.compile
    )


def sampling(args: argparse.Namespace) -> Sampling:
    return Sampling(
        cfg=args.cfg,
        top_k=args.top_k,
        top_p=args.top_p,
        smooth=args.smooth,
        seed=args.seed,
        cfg_skip_last=args.cfg_skip_last,
        prune_ratio=args.prune,
        kv_budget=args.kv_budget,
    )


def plan_outputs(args: argparse.Namespace, *inputs: str) -> list[str]:
    """The output names of ``--out`` for ``--samples``, checked before any work is done."""
    from engine.imaging.outputs import plan_outputs as check
    from engine.imaging.saving import numbered_paths

    return check(numbered_paths(args.out, args.samples), args.overwrite, inputs)


def save_variations(
    result: JobResult, out: str, *, protected: Sequence[str] = (), **save_kwargs
) -> list[str]:
    """Save every variation; a failure part-way says which files were saved before it."""
    from engine.imaging.saving import numbered_paths, save_image

    paths = numbered_paths(out, len(result.variations))
    saved: list[str] = []
    for variation, path in zip(result.variations, paths, strict=True):
        try:
            save_image(variation.image, path, protected=protected, **save_kwargs)
        except UserFacingError as exc:
            done = f"Saved before that: {', '.join(saved)}." if saved else "Nothing was saved."
            raise UserFacingError(f"{exc} {done}") from None
        saved.append(path)
        print(path)
    return paths
