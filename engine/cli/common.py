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
from engine.capabilities import FAMILIES, task_defaults
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


class Given(argparse.Action):
    """Store the value and note that the user gave it: a model family's own defaults (from
    the capability table) fill only the settings left out."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = {*getattr(namespace, "given", ()), self.dest}


def add_sampling_arguments(parser: argparse.ArgumentParser, task: str) -> None:
    """Sampler flags whose defaults are the capability table's for ``task`` (VAR's in the
    help; :func:`sampling` swaps in the chosen model family's for flags not given)."""
    defaults = task_defaults("var", task).sampling
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cfg", type=float, default=defaults.cfg, action=Given)
    parser.add_argument("--top-k", type=int, default=defaults.top_k, action=Given)
    parser.add_argument("--top-p", type=float, default=defaults.top_p, action=Given)
    parser.add_argument(
        "--tau", type=float, default=defaults.tau, action=Given,
        help="temperature (bitwise models: Infinity)",
    )  # fmt: skip
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


def chosen(args: argparse.Namespace, name: str, family_default):
    """``args.<name>`` if the user gave the flag, else the model family's default."""
    return getattr(args, name) if name in getattr(args, "given", ()) else family_default


def add_text_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prompt", help="what to paint (text models: infinity-2b)")
    parser.add_argument("--text-encoder", help="T5 folder: --vae/--var are then Infinity's")
    parser.add_argument(
        "--resolution", type=int, choices=(256, 512, 1024),
        help="Infinity from files: the model's resolution (default 1024)",
    )  # fmt: skip


def text_model_choice(args: argparse.Namespace) -> tuple[ModelChoice, str | None]:
    """The model and its family: ``--text-encoder`` with ``--vae``/``--var`` is an Infinity
    set from disk; a text family (Infinity) needs ``--prompt``."""
    from engine.cli.edit_instruction import patch_nums
    from engine.store.catalogue import family_of

    if args.text_encoder:
        if not (args.vae and args.var):
            raise UserFacingError("Give --vae and --var with --text-encoder (an Infinity set).")
        choice = ModelChoice.from_files(
            family="infinity", vae=args.vae, transformer=args.var,
            text_encoder=args.text_encoder, device=args.device, dtype=args.dtype,
            patch_nums=patch_nums(args.resolution), compile=args.compile,
        )  # fmt: skip
    else:
        choice = model_choice(args)
    family = family_of(choice)
    info = FAMILIES.get(family or "")
    if info is not None and info.condition == "text" and not (args.prompt or "").strip():
        raise UserFacingError(f"{info.name} paints from a prompt: add --prompt TEXT.")
    return choice, family


def sampling(args: argparse.Namespace, family: str | None = None, task: str = "") -> Sampling:
    """The sampler flags; with ``family`` and ``task``, its defaults for the flags not given."""
    values = {"cfg": args.cfg, "top_k": args.top_k, "top_p": args.top_p, "tau": args.tau}
    if family is not None:
        defaults = task_defaults(family, task).sampling.as_kwargs()
        values = {name: chosen(args, name, defaults[name]) for name in values}
    return Sampling(
        **values,
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
