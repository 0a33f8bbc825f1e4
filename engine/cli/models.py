"""``finescale models list|download|import|verify|remove|plan``: models without the GUI."""

from __future__ import annotations

import argparse
import json
import sys
import time

from engine.cli.plan import add_plan_parser
from engine.runtime.cancel import CancelToken, UserFacingError


def add_models_parser(subparsers) -> None:
    """Register the ``models`` command (wired into ``engine.cli.main`` by the lead)."""
    parser = subparsers.add_parser(
        "models", help="list, download, import, verify, remove or plan models"
    )
    actions = parser.add_subparsers(dest="models_command", required=True)

    listing = actions.add_parser("list", help="every known model with its status and size")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)

    fetch = actions.add_parser("download", help="download a model from the Hugging Face hub")
    fetch.add_argument("model_id")
    fetch.set_defaults(handler=_download)

    bring = actions.add_parser("import", help="register checkpoint files from disk (offline)")
    bring.add_argument("path", help="a .pth/.safetensors file, a folder, or a hub cache copy")
    bring.add_argument("--name", help="id suffix for a custom VAR pair (custom-NAME)")
    bring.add_argument(
        "--convert",
        choices=("keep", "fp16", "bf16"),
        help="store VAR checkpoints as memory-mapped .safetensors (fp16/bf16: half the size)",
    )
    bring.set_defaults(handler=_import)

    check = actions.add_parser("verify", help="re-hash installed files (all models by default)")
    check.add_argument("model_id", nargs="?")
    check.add_argument("--offline", action="store_true", help="never ask the hub for hashes")
    check.set_defaults(handler=_verify)

    drop = actions.add_parser("remove", help="delete a model's files (shared files are kept)")
    drop.add_argument("model_id")
    drop.set_defaults(handler=_remove)

    add_plan_parser(actions)


def _size_column(spec, state: str) -> str:
    from engine.store.download import format_bytes
    from engine.store.installed import disk_usage

    approx = "~" if spec.size_is_estimate else ""
    if state == "installed":
        return format_bytes(disk_usage(spec))
    if state == "partial":
        return f"{format_bytes(disk_usage(spec))} of {approx}{format_bytes(spec.total_bytes)}"
    if spec.download_bytes != spec.total_bytes:  # e.g. only flan-t5-xl's encoder is kept
        return f"{approx}{format_bytes(spec.total_bytes)} (dl {format_bytes(spec.download_bytes)})"
    return approx + format_bytes(spec.total_bytes)


def _list(args: argparse.Namespace) -> None:
    from engine.store.catalogue import all_models
    from engine.store.installed import status

    rows = []
    for spec in all_models():
        state = status(spec)
        if not spec.published and not spec.custom and state == "not installed":
            state = "not published"
        rows.append((spec, state))
    if args.json:
        out = [
            {
                "id": spec.id,
                "title": spec.title,
                "family": spec.family,
                "status": state,
                "size_bytes": spec.total_bytes,
                "download_bytes": spec.download_bytes,
                "tasks": list(spec.tasks),
                "resolution": spec.resolution,
            }
            for spec, state in rows
        ]
        print(json.dumps(out, indent=1))
        return
    print(f"{'ID':<18} {'STATUS':<14} {'SIZE':<30} {'TASKS':<40} TITLE")
    for spec, state in rows:
        tasks = ",".join(spec.tasks)
        print(f"{spec.id:<18} {state:<14} {_size_column(spec, state):<30} {tasks:<40} {spec.title}")


class _ProgressPrinter:
    """One line per file phase and at most one per second in between (logs stay readable)."""

    def __init__(self) -> None:
        self._last = 0.0
        self._key: tuple[str, str] | None = None

    def __call__(self, event) -> None:
        from engine.store.download import format_bytes

        key = (event.filename, event.phase)
        now = time.monotonic()
        if key == self._key and now - self._last < 1.0 and event.phase != "done":
            return
        self._key, self._last = key, now
        if event.phase == "done":
            print(f"done: {format_bytes(event.total)}", file=sys.stderr)
            return
        line = f"[{event.file_index + 1}/{event.file_count}] {event.filename}: {event.phase}"
        if event.phase == "downloading":
            eta = f", ETA {event.eta_s:.0f} s" if event.eta_s is not None else ""
            line += (
                f" {format_bytes(event.done)} / {format_bytes(event.total)} "
                f"({event.fraction:.0%}) {format_bytes(event.rate_bps)}/s{eta}"
            )
        print(line, file=sys.stderr)


def _download(args: argparse.Namespace) -> None:
    from engine.store.catalogue import get_model
    from engine.store.download import download_model

    spec = get_model(args.model_id)
    try:
        paths = download_model(spec, _ProgressPrinter(), CancelToken())
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        raise
    for role, path in sorted(paths.items()):
        print(f"{role}: {path}")


def _import(args: argparse.Namespace) -> None:
    from engine.store.catalogue import get_model
    from engine.store.importing import import_path
    from engine.store.installed import missing_files, status

    def report(name: str, done: int, total: int) -> None:
        if done == total:
            print(f"checked {name}", file=sys.stderr)

    for model_id in import_path(
        args.path, report, CancelToken(), name=args.name, convert=args.convert
    ):
        spec = get_model(model_id)
        state = status(spec)
        missing = ", ".join(f.filename for f in missing_files(spec))
        print(f"{model_id}: {state}" + (f" (still missing {missing})" if missing else ""))


def _verify(args: argparse.Namespace) -> None:
    from engine.store.catalogue import all_models, get_model
    from engine.store.installed import status
    from engine.store.locations import hub_offline
    from engine.store.verify import verify

    specs = [get_model(args.model_id)] if args.model_id else all_models()
    specs = [s for s in specs if status(s) != "not installed"]
    if args.model_id and not specs:
        raise UserFacingError(f"{args.model_id} is not installed; nothing to verify.")
    bad = []
    for spec in specs:
        remote = None
        if not args.offline and not hub_offline() and not spec.custom and spec.published:
            remote = _remote_lookup(spec)
        for check in verify(spec, remote=remote):
            note = f" (against {check.source})" if check.source else ""
            print(f"{spec.id:<18} {check.filename:<36} {check.status}{note}")
            if check.status == "mismatch":
                bad.append(check.filename)
    if bad:
        raise UserFacingError(
            f"{len(bad)} file(s) failed verification ({', '.join(sorted(set(bad)))}); remove the "
            "model and download or import it again."
        )


def _remote_lookup(spec):
    from engine.store.download import remote_sha256

    def lookup(model_file):
        try:
            return remote_sha256(model_file, spec)
        except UserFacingError:
            return None  # offline or unknown file: report "unchecked" rather than fail

    return lookup


def _remove(args: argparse.Namespace) -> None:
    from engine.store.catalogue import get_model
    from engine.store.download import format_bytes
    from engine.store.removal import remove

    freed = remove(get_model(args.model_id))
    print(f"removed {args.model_id} ({format_bytes(freed)} freed)")
