"""``finescale generate``: images from a class (VAR) or a ``--prompt`` (Infinity)."""

from __future__ import annotations

import argparse

from engine.api import GenerateRequest
from engine.cli.common import (
    add_model_arguments,
    add_sampling_arguments,
    add_text_model_arguments,
    plan_outputs,
    print_progress,
    run_blocking,
    sampling,
    save_variations,
    text_model_choice,
)


def _generate(args: argparse.Namespace) -> None:
    plan_outputs(args)
    choice, family = text_model_choice(args)
    request = GenerateRequest(
        model=choice,
        class_label=args.class_label,
        samples=args.samples,
        sampling=sampling(args, family, "generate"),
        prompt=args.prompt,
    )
    result = run_blocking(request, print_progress)
    save_variations(result, args.out, overwrite=args.overwrite)


def add_generate_parser(commands) -> None:
    gen = commands.add_parser("generate", help="generation from a class or a prompt")
    add_model_arguments(gen)
    add_text_model_arguments(gen)
    gen.add_argument("--class", dest="class_label", type=int, default=1000, help="0-999, 1000=any")
    add_sampling_arguments(gen, "generate")
    gen.add_argument("--out", required=True, help="output PNG (suffix _1.._N with --samples)")
    gen.add_argument("--overwrite", action="store_true")
    gen.set_defaults(handler=_generate)
