"""The batch journal: what a batch has finished, kept in the output folder so a rerun resumes.

One append-only JSON-lines file per shard (``.finescale-batch/journal-K-of-N.jsonl``), each line
written and fsynced before the work it records is trusted: ``start`` before a file is upscaled,
``done`` (with the output's size) after its output was renamed into place. A rerun — after a
crash, a kill or a cancel — reads every shard's journal, so a file any shard finished is not
redone (as long as its output is still there with the recorded size), and a file that was only
started is redone. A torn last line (a kill mid-write) is ignored.

While a batch runs it holds an exclusive lock on its journal file, so the next run can tell a
crashed batch's leftover temporaries (safe to delete) from those of a shard still writing.
"""

from __future__ import annotations

import contextlib
import json
import os

from engine.imaging.outputs import DiskFullError, is_disk_full
from engine.runtime.cancel import UserFacingError

try:  # POSIX; elsewhere locks are not taken and only old temporaries are swept
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

FOLDER = ".finescale-batch"


def _journal_name(k: int, n: int) -> str:
    return f"journal-{k}-of-{n}.jsonl"


def _try_lock(handle) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


class Journal:
    """The journal of one shard of the batch writing into ``output_dir``."""

    def __init__(self, output_dir: str, shard: tuple[int, int] = (1, 1)):
        self.folder = os.path.join(output_dir, FOLDER)
        self.path = os.path.join(self.folder, _journal_name(*shard))
        self._handle = None
        self._done: dict[str, tuple[str, int]] = {}
        self.others_running = False

    def __enter__(self) -> Journal:
        name = os.path.basename(self.path)
        try:
            os.makedirs(self.folder, exist_ok=True)
            self._handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open
        except OSError as exc:
            raise UserFacingError(
                f"{self.folder}: the batch journal cannot be written ({exc.strerror})."
            ) from None
        if not _try_lock(self._handle):
            self._handle.close()
            raise UserFacingError(
                f"Another batch is already writing {name} in this output folder; "
                "wait for it or give this one another --shard."
            )
        self._read_all()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._handle is not None:
            self._handle.close()  # closing releases the lock
            self._handle = None

    def _read_all(self) -> None:
        for entry in sorted(os.listdir(self.folder)):
            if not (entry.startswith("journal-") and entry.endswith(".jsonl")):
                continue
            path = os.path.join(self.folder, entry)
            if path != self.path and fcntl is None:
                self.others_running = True  # cannot tell: assume another shard may be writing
            elif path != self.path:
                with open(path, encoding="utf-8") as probe:
                    self.others_running |= not _try_lock(probe)
            with contextlib.suppress(OSError), open(path, encoding="utf-8") as handle:
                for line in handle:
                    self._read_line(line)

    def _read_line(self, line: str) -> None:
        try:
            record = json.loads(line)
            key, event = record["key"], record["event"]
        except (ValueError, KeyError, TypeError):
            return  # a torn line from a killed run
        if event == "done":
            self._done[key] = (record["output"], int(record.get("size", -1)))
        elif event == "start":
            self._done.pop(key, None)  # started again after finishing: only a newer done counts

    def finished_output(self, key: str) -> str | None:
        """The output an earlier run made for ``key``, if it is still there, unchanged."""
        entry = self._done.get(key)
        if entry is None:
            return None
        output, size = entry
        try:
            return output if os.path.getsize(output) == size else None
        except OSError:
            return None

    def started(self, key: str, output: str) -> None:
        self._write({"event": "start", "key": key, "output": output})

    def finished(self, key: str, output: str) -> None:
        size = os.path.getsize(output)
        self._done[key] = (output, size)
        self._write({"event": "done", "key": key, "output": output, "size": size})

    def _write(self, record: dict[str, object]) -> None:
        assert self._handle is not None, "use the journal as a context manager"
        try:
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError("The disk is full: the batch journal cannot grow.") from None
            raise UserFacingError(
                f"The batch journal cannot be written ({exc.strerror})."
            ) from None
