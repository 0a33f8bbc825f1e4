"""One file of a batch: load, name, upscale, write with its metadata, journal it.

The input is only ever read. The output appears under its final name only when complete
(``save_image`` writes a temporary and renames it), and the journal records ``start`` before the
work and ``done`` after the rename, so a crash anywhere in between means "redo this file".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from engine.api import BatchEntry, BatchItemProgress, BatchRequest, ScaleProgress
from engine.imaging.imageio import load_image, upright_size
from engine.imaging.metadata import rescaled, resized_exif
from engine.imaging.saving import save_image
from engine.pipelines.batch.journal import Journal
from engine.pipelines.batch.naming import output_extension, render, with_suffix
from engine.pipelines.batch.upscalers import Upscaler
from engine.runtime.cancel import UserFacingError
from engine.runtime.jobs import JobContext

MAX_OUTPUT_PIXELS = 400_000_000
COMPARE_SIDE = 128
# zlib level of PNG outputs: 2048² photo on this machine, level 6 = 9.2 s and 5.2 MB,
# level 3 = 2.2 s and 5.8 MB (benchmarks/upscale.py): the encoder dominated the batch at 6.
PNG_COMPRESSION = 3
# Largest side each writer accepts (libjpeg: 65535, libwebp: 16383).
MAX_SIDE = {"jpg": 65_535, "jpeg": 65_535, "webp": 16_383}


@dataclass(frozen=True)
class Outcome:
    state: str  # done | skipped | failed
    output: str = ""
    reason: str = ""
    notes: tuple[str, ...] = ()
    worked: bool = False  # upscaled in this run (counts toward the measured throughput)
    compare: tuple[np.ndarray, np.ndarray] | None = None  # (before, after) centre crops


def _check_size(name: str, size: tuple[int, int], ext: str) -> None:
    width, height = size
    if width * height > MAX_OUTPUT_PIXELS:
        raise UserFacingError(
            f"{name}: the result would be {width}×{height} pixels, more than the "
            f"{MAX_OUTPUT_PIXELS // 1_000_000} megapixel limit; use a long-side limit."
        )
    limit = MAX_SIDE.get(ext)
    if limit is not None and max(size) > limit:
        raise UserFacingError(
            f"{name}: {ext.upper()} cannot hold {width}×{height} pixels (at most {limit} a "
            "side); choose PNG or TIFF."
        )


def centre_crops(source: np.ndarray, result: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The output's centre (≤ 128²) and the input region it was made from, RGB copies."""
    out_h, out_w = result.shape[:2]
    in_h, in_w = source.shape[:2]
    side_w, side_h = min(COMPARE_SIDE, out_w), min(COMPARE_SIDE, out_h)
    x0, y0 = (out_w - side_w) // 2, (out_h - side_h) // 2
    after = result[y0 : y0 + side_h, x0 : x0 + side_w, :3].copy()
    sx, sy = in_w / out_w, in_h / out_h
    left, top = int(x0 * sx), int(y0 * sy)
    right = max(left + 1, round((x0 + side_w) * sx))
    bottom = max(top + 1, round((y0 + side_h) * sy))
    return source[top:bottom, left:right, :3].copy(), after


def _item_context(ctx: JobContext, index: int, total: int, source: str) -> JobContext:
    """The upscaler's context: its strip/tile progress becomes this file's progress."""

    def emit(event: object) -> None:
        if isinstance(event, ScaleProgress):  # scales within samples (strips, tiles/windows)
            within = (event.scale_index + 1) / max(1, event.num_scales)
            fraction = (event.sample_index + within) / max(1, event.num_samples)
            ctx.emit(BatchItemProgress(ctx.job_id, index, total, source, "running", fraction))
        else:
            ctx.emit(event)

    return JobContext(ctx.job_id, ctx.token, emit, ctx.models)


class ItemRunner:
    """Processes the files of one batch request, one at a time."""

    def __init__(self, request: BatchRequest, journal: Journal, upscale: Upscaler):
        self.request = request
        self.journal = journal
        self.upscale = upscale
        self.outputs_this_run: set[str] = set()

    def _place(
        self, entry: BatchEntry, width: int, height: int
    ) -> tuple[str, str, float, tuple[int, int]]:
        """(journal key, planned output path, ratio, size) for a ``width`` × ``height`` input."""
        target = self.request.target
        size = target.size_for(width, height)
        ratio = size[0] / width
        ext = output_extension(entry.source, self.request.format)
        name = render(self.request.template, entry.source, size, ratio, ext)
        _check_size(os.path.basename(entry.source), size, ext)
        folder = os.path.join(self.request.output_dir, entry.subfolder)
        planned = os.path.normpath(os.path.join(folder, name))
        return f"{entry.source}\0{planned}", planned, ratio, size

    def _final_path(self, planned: str) -> str | None:
        """Where to write under the overwrite rule; None = skip."""
        rule = self.request.overwrite
        taken = lambda p: os.path.lexists(p) or p in self.outputs_this_run  # noqa: E731
        if planned in self.outputs_this_run:  # two inputs, one name: never clobber our own
            return with_suffix(planned, taken)
        if rule == "replace" or not os.path.lexists(planned):
            return planned
        if rule == "skip":
            return None
        return with_suffix(planned, taken)

    def _skip(self, entry: BatchEntry, width: int, height: int) -> Outcome | None:
        """Skipped: finished in an earlier run, or the output exists and the rule is "skip"."""
        key, planned, _ratio, _size = self._place(entry, width, height)
        earlier = self.journal.finished_output(key)
        if earlier is not None:
            return Outcome("skipped", earlier, "done in an earlier run")
        if self._final_path(planned) is None:
            return Outcome("skipped", planned, f"{os.path.basename(planned)} already exists")
        return None

    def run(self, ctx: JobContext, index: int, total: int, entry: BatchEntry) -> Outcome:
        """Upscale one file; a ``UserFacingError`` from any step becomes a failed outcome,
        except a full disk and a cancel, which the caller stops on."""
        ctx.emit(BatchItemProgress(ctx.job_id, index, total, entry.source, "running", 0.0))
        header = upright_size(entry.source)  # finished or existing outputs: no decode needed
        skipped = self._skip(entry, *header) if header is not None else None
        if skipped is not None:
            return skipped
        loaded = load_image(entry.source)
        skipped = self._skip(entry, loaded.width, loaded.height) if header is None else None
        if skipped is not None:
            return skipped
        key, planned, ratio, size = self._place(entry, loaded.width, loaded.height)
        output = self._final_path(planned)
        if output is None:  # appeared since the header check
            return Outcome("skipped", planned, f"{os.path.basename(planned)} already exists")
        os.makedirs(os.path.dirname(output), exist_ok=True)
        self.journal.started(key, output)
        item_ctx = _item_context(ctx, index, total, entry.source)
        pixels = self.upscale(loaded.pixels, self.request.target, item_ctx)
        ctx.check_cancelled()
        notes = save_image(
            pixels,
            output,
            icc_profile=loaded.icc_profile,
            exif=resized_exif(loaded.exif, size, ratio),
            extras=rescaled(loaded.extras, ratio),
            quality=self.request.quality,
            overwrite=self.request.overwrite == "replace",
            source_path=entry.source,
            png_compression=PNG_COMPRESSION,
        )
        self.journal.finished(key, output)
        self.outputs_this_run.add(output)
        compare = centre_crops(loaded.pixels, pixels)
        return Outcome("done", output, "", loaded.notes + tuple(notes), True, compare)
