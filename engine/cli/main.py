"""``finescale`` command line: the same engine and requests as the GUI, no Qt."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from engine.cli.batch import add_upscale_parser
from engine.cli.edit import add_edit_parsers
from engine.cli.edit_instruction import add_edit_instruction_parser
from engine.cli.generate import add_generate_parser
from engine.cli.models import add_models_parser
from engine.runtime.cancel import UserFacingError

COMMANDS = (
    add_generate_parser,
    add_edit_parsers,
    add_edit_instruction_parser,
    add_upscale_parser,
    add_models_parser,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finescale", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for register in COMMANDS:
        register(commands)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl+C would be so it cleans up the same way (temp files...)."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if on_main_thread else None
    try:
        args.handler(args)
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Terminated:
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
