"""Turn what the user dropped (files, folders) into the ordered list of files to upscale.

Folders are walked in name order (sub-folders only with ``recursive``), and each file keeps its
place in the tree so the output folder mirrors it. Hidden files and the files operating systems
sprinkle into folders (``Thumbs.db``, ``.DS_Store``, ``desktop.ini``) are passed over; entries
that cannot be read — a folder without permission, a broken link, a symlink loop — are reported
and the walk goes on. The output folder itself is never walked (a rerun must not upscale its
own outputs).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from engine.api import BatchEntry

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
SYSTEM_FILES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", ".ds_store", "icon\r"})
HIDDEN_ATTRIBUTE = getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 2)


@dataclass
class Expansion:
    items: list[BatchEntry] = field(default_factory=list)
    passed_over: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def _key(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def passed_over_reason(entry: os.DirEntry | str) -> str | None:
    """Why a file found in a folder is not an input (None: it is one)."""
    name = entry if isinstance(entry, str) else entry.name
    if name.lower() in SYSTEM_FILES:
        return "system file"
    if name.startswith("."):
        return "hidden file"
    if not isinstance(entry, str):
        try:
            if entry.stat().st_file_attributes & HIDDEN_ATTRIBUTE:  # type: ignore[attr-defined]
                return "hidden file"
        except (AttributeError, OSError):
            pass
    if os.path.splitext(name)[1].lower() not in IMAGE_SUFFIXES:
        return "not a picture"
    return None


class _Walker:
    def __init__(self, output_dir: str, recursive: bool, result: Expansion):
        self.output_key = _key(output_dir)
        self.recursive = recursive
        self.result = result
        self.seen_files: set[str] = set()

    def add_file(self, path: str, subfolder: str) -> None:
        key = _key(path)
        if key not in self.seen_files:  # the same file dropped twice is upscaled once
            self.seen_files.add(key)
            self.result.items.append(BatchEntry(os.path.abspath(path), subfolder))

    def walk(self, folder: str, subfolder: str, ancestors: frozenset[str]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: (e.name.casefold(), e.name))
        except OSError as exc:
            self.result.problems.append((folder, f"the folder cannot be read ({exc.strerror})"))
            return
        for entry in entries:
            self._visit(entry, subfolder, ancestors)

    def _visit(self, entry: os.DirEntry, subfolder: str, ancestors: frozenset[str]) -> None:
        path = entry.path
        try:
            is_dir = entry.is_dir()
            is_file = entry.is_file()
        except OSError as exc:
            self.result.problems.append((path, f"cannot be read ({exc.strerror})"))
            return
        if is_dir:
            if entry.name.startswith(".") or not self.recursive:
                return
            key = _key(path)
            if key == self.output_key:
                return
            if key in ancestors:
                self.result.problems.append((path, "a symbolic link loop; not followed"))
                return
            self.walk(path, os.path.join(subfolder, entry.name), ancestors | {key})
        elif is_file:
            reason = passed_over_reason(entry)
            if reason is None:
                self.add_file(path, subfolder)
            elif reason != "not a picture":
                self.result.passed_over.append((path, reason))
        elif entry.is_symlink():
            self.result.problems.append((path, "a broken link"))


def expand_inputs(
    inputs: tuple[str | BatchEntry, ...], output_dir: str, recursive: bool
) -> Expansion:
    """Every input file in order, with where its output goes, and what was left out and why."""
    result = Expansion()
    walker = _Walker(output_dir, recursive, result)
    for given in inputs:
        if isinstance(given, BatchEntry):
            walker.add_file(given.source, given.subfolder)
            continue
        path = os.path.abspath(os.fspath(given))
        if os.path.isdir(path):
            walker.walk(path, "", frozenset({_key(path)}))
        elif os.path.lexists(path) and not os.path.exists(path):
            result.problems.append((path, "a broken link"))
        elif not os.path.exists(path):
            result.problems.append((path, "does not exist"))
        elif passed_over_reason(os.path.basename(path)) in ("system file", "hidden file"):
            result.passed_over.append((path, passed_over_reason(os.path.basename(path)) or ""))
        else:
            walker.add_file(path, "")  # named explicitly: tried even with an odd extension
    return result


def shard(items: list[BatchEntry], k: int, n: int) -> list[BatchEntry]:
    """Every ``n``-th item from the ``k``-th (1-based): N machines split one list unasked."""
    return items[k - 1 :: n]
