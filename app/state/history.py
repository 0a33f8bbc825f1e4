"""The undo history as plain arrays, so an autosave can bring it back after a crash.

Each command already stores only the box it changed (before and after), so the history is
small next to the image. The newest commands are kept within ``HISTORY_BUDGET_BYTES``; older
ones are dropped, and the restored history then starts later. Restoring walks the saved state
back to the oldest kept command, loads that, and replays every command (redo side included),
then steps back to where the user was. If the replay does not land exactly on the saved
pixels, the history is not used; the pixels alone are restored.
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


def _parts(command) -> dict[str, np.ndarray]:
    if command.kind == "mask":
        return {"before": command.before, "after": command.after}
    (bi, bm), (ai, am) = command.before, command.after
    return {"before_image": bi, "before_mask": bm, "after_image": ai, "after_mask": am}


def capture(doc: Document, budget: int = HISTORY_BUDGET_BYTES) -> SavedHistory:
    """The document's undo stack (references to immutable arrays: cheap, GUI thread)."""
    stack = doc.undo_stack
    commands = [stack.command(i) for i in range(stack.count())]
    index = stack.index()
    sizes = [sum(a.nbytes for a in _parts(c).values()) for c in commands]
    start, total = 0, sum(sizes)
    while total > budget and start < index:
        total -= sizes[start]
        start += 1
    if total > budget:  # even the steps after the current one do not fit
        return SavedHistory({"index": 0, "commands": []}, {})
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
    return SavedHistory({"index": index - start, "commands": entries}, arrays)


def _command(doc: Document, i: int, entry: dict, arrays: dict[str, np.ndarray]):
    box = None if entry["box"] is None else Box(*entry["box"])
    part = {
        name[len(f"h{i}_") :]: array for name, array in arrays.items() if name.startswith(f"h{i}_")
    }
    if entry["kind"] == "mask":
        return MaskEdit(doc, box, part["before"], part["after"], entry["text"])
    before = (part["before_image"], part["before_mask"])
    after = (part["after_image"], part["after_mask"])
    return ImageEdit(doc, box, before, after, entry["text"])


def _undone(command, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The arrays as they were before ``command`` (no document involved)."""
    if command.kind == "mask":
        mask = mask.copy()
        mask[command.box.slices] = command.before
        return image, mask
    if command.box is None:
        return command.before[0], command.before[1]
    image, mask = image.copy(), mask.copy()
    image[command.box.slices], mask[command.box.slices] = command.before
    return image, mask


def restore(
    doc: Document,
    image: np.ndarray,
    mask: np.ndarray,
    saved: SavedHistory,
    source_path: Path | None,
) -> bool:
    """Load ``image``/``mask`` with their undo history; False when only the pixels came back."""
    commands = [_command(doc, i, e, saved.arrays) for i, e in enumerate(saved.meta["commands"])]
    index = int(saved.meta["index"])
    try:
        base_image, base_mask = image, mask
        for command in reversed(commands[:index]):
            base_image, base_mask = _undone(command, base_image, base_mask)
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
