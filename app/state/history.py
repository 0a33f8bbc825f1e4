"""The undo history as plain arrays, so an autosave can bring it back after a crash.

Each command already stores only the box it changed (before and after), so the history is
small next to the image. The newest commands are kept within ``HISTORY_BUDGET_BYTES``; older
ones are dropped, and the restored history then starts later. The state just before the oldest
kept command is the history's *base*: walking the saved state back through the commands'
"before" parts gives it, replaying their "after" parts from it gives the saved state again.
Restoring loads the base and replays every command (redo side included), then steps back to
where the user was. If the replay does not land exactly on the saved pixels, the history is
not used; the pixels alone are restored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.state.document import Document, ImageEdit, MaskEdit
from app.state.mask_paint import Box

HISTORY_BUDGET_BYTES = 64 << 20


@dataclass(frozen=True)
class SavedHistory:
    """JSON-able ``meta`` plus the arrays it names (``h<i>_<part>``)."""

    meta: dict
    arrays: dict[str, np.ndarray]


EMPTY = SavedHistory({"index": 0, "commands": []}, {})


@dataclass(frozen=True, eq=False)
class Anchor:
    """Names the base state inside one document: just ``before`` or ``after`` a command that
    is still on the stack (a command's neighbour states never change while it exists), or the
    loaded state. Two anchors naming one state differently only cost a needless rewrite."""

    side: str  # "before", "after" or "loaded"
    command: object | None = None

    def same(self, other: Anchor | None) -> bool:
        return other is not None and self.side == other.side and self.command is other.command


@dataclass(frozen=True)
class Captured:
    """A capture plus, for the live document only, what its base is (never serialised)."""

    saved: SavedHistory
    bottom: object | None  # the oldest kept command
    anchor: Anchor


def _parts(command) -> dict[str, np.ndarray]:
    if command.kind == "mask":
        return {"before": command.before, "after": command.after}
    (bi, bm), (ai, am) = command.before, command.after
    return {"before_image": bi, "before_mask": bm, "after_image": ai, "after_mask": am}


def _first_kept(sizes: list[int], index: int, budget: int) -> int | None:
    """The oldest command to keep so the rest fits ``budget``; the current state's redo side
    is never dropped (None when even that does not fit)."""
    start, total = 0, sum(sizes)
    while total > budget and start < index:
        total -= sizes[start]
        start += 1
    return start if total <= budget else None


def capture(doc: Document, budget: int = HISTORY_BUDGET_BYTES, bottom=None) -> Captured:
    """The document's undo stack (references to immutable arrays: cheap, GUI thread).

    ``bottom``: the previous capture's oldest command. It stays the oldest while everything
    from it fits, so an autosave's base stays valid; once it no longer fits, the history is
    trimmed to half the budget, so base rewrites come one per half-budget of new edits rather
    than one per edit.
    """
    stack = doc.undo_stack
    commands = [stack.command(i) for i in range(stack.count())]
    index = stack.index()
    sizes = [sum(a.nbytes for a in _parts(c).values()) for c in commands]
    start = _first_kept(sizes, index, budget)
    at = next((i for i, c in enumerate(commands) if c is bottom), None)
    if start is not None and at is not None and at <= index:
        trimmed = _first_kept(sizes, index, budget // 2) if at < start else at
        start = start if trimmed is None else trimmed
    if start is None or not commands:
        after = commands[index - 1] if index else None
        return Captured(EMPTY, None, Anchor("after", after) if after else Anchor("loaded"))
    entries, arrays = [], {}
    for i, command in enumerate(commands[start:]):
        box = command.box
        entries.append(
            {
                "kind": command.kind,
                "text": command.text(),
                "box": None if box is None else [box.x0, box.y0, box.x1, box.y1],
            }
        )
        arrays.update({f"h{i}_{name}": array for name, array in _parts(command).items()})
    saved = SavedHistory({"index": index - start, "commands": entries}, arrays)
    return Captured(saved, commands[start], Anchor("before", commands[start]))


def _command(doc: Document, i: int, entry: dict, arrays: dict[str, np.ndarray]):
    box = None if entry["box"] is None else Box(*entry["box"])
    part = _entry_parts(arrays, i)
    if entry["kind"] == "mask":
        return MaskEdit(doc, box, part["before"], part["after"], entry["text"])
    before = (part["before_image"], part["before_mask"])
    after = (part["after_image"], part["after_mask"])
    return ImageEdit(doc, box, before, after, entry["text"])


def _entry_parts(arrays: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    prefix = f"h{i}_"
    return {name[len(prefix) :]: a for name, a in arrays.items() if name.startswith(prefix)}


class _State:
    """An image and a mask that are each copied once, on their first write, however many
    boxes are pasted into them (the caller's arrays are never changed)."""

    def __init__(self, image: np.ndarray, mask: np.ndarray):
        self.image, self.mask = image, mask
        self._own_image = self._own_mask = False

    def put(self, entry: dict, part: dict[str, np.ndarray], side: str) -> None:
        if entry["kind"] == "mask":
            _paste(self._writable_mask(), entry["box"], part[side])
        elif entry["box"] is None:  # a new size: whole arrays
            self.image, self.mask = part[f"{side}_image"], part[f"{side}_mask"]
            self._own_image = self._own_mask = False
        else:
            _paste(self._writable_image(), entry["box"], part[f"{side}_image"])
            _paste(self._writable_mask(), entry["box"], part[f"{side}_mask"])

    def _writable_image(self) -> np.ndarray:
        if not self._own_image:
            self.image, self._own_image = self.image.copy(), True
        return self.image

    def _writable_mask(self) -> np.ndarray:
        if not self._own_mask:
            self.mask, self._own_mask = self.mask.astype(bool, copy=True), True
        return self.mask


def _paste(target: np.ndarray, box: list[int], pixels: np.ndarray) -> None:
    area = Box(*box).slices
    if target[area].shape != pixels.shape:  # no broadcasting a damaged part over the box
        raise ValueError("a saved box does not fit the image")
    target[area] = pixels


def walk_back(image: np.ndarray, mask: np.ndarray, saved: SavedHistory, count: int):
    """The state before the first ``count`` saved commands, from the state after them."""
    state = _State(image, mask)
    for i in reversed(range(count)):
        state.put(saved.meta["commands"][i], _entry_parts(saved.arrays, i), "before")
    return state.image, state.mask


def replay(image: np.ndarray, mask: np.ndarray, saved: SavedHistory, count: int):
    """The state after the first ``count`` saved commands, from their base."""
    state = _State(image, mask)
    for i in range(count):
        state.put(saved.meta["commands"][i], _entry_parts(saved.arrays, i), "after")
    return state.image, state.mask


def restore(
    doc: Document,
    image: np.ndarray,
    mask: np.ndarray,
    saved: SavedHistory,
    source_path: Path | None,
) -> bool:
    """Load ``image``/``mask`` with their undo history; False when only the pixels came back
    (no history was saved, or it does not replay onto these pixels)."""
    try:
        entries = saved.meta["commands"]
        commands = [_command(doc, i, e, saved.arrays) for i, e in enumerate(entries)]
        index = int(saved.meta["index"])
        if commands:
            base_image, base_mask = walk_back(image, mask, saved, index)
            doc.load(base_image, source_path, mask=base_mask, modified=True)
            for command in commands:
                doc.undo_stack.push(command)
            doc.undo_stack.setIndex(index)
            if np.array_equal(doc.image, image) and np.array_equal(doc.mask, mask):
                return True
    except (KeyError, ValueError, TypeError, IndexError):
        pass  # an autosave from another version, or damaged: fall back to the pixels
    doc.load(image, source_path, mask=mask, modified=True)
    return False
