"""Runs jobs for the window: settings + document -> request -> engine -> progress -> results.

The one place that knows what a job means for the GUI: where its previews are drawn, which
variation is on the canvas, what Apply and "Vary details" do. Widgets stay thin; they only
emit what the user asked for and show what they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QWidget

from app.engine_access import FAMILIES, JobFailed, JobFinished, PlanRequest, thumbnail
from app.engine_bridge import EngineBridge
from app.imaging import to_pixmap
from app.prompts import Prompts
from app.requests import (
    JobSettings,
    build_edit,
    build_generate,
    build_inpaint,
    build_outpaint,
    build_upscale,
    build_vary,
)
from app.settings import AppSettings
from app.state.document import Document
from app.state.mask_paint import Box
from app.widgets.canvas import Canvas
from app.widgets.canvas_items import fit_rect
from app.widgets.generate_panel import GeneratePanel
from app.widgets.scale_progress import ScaleProgressStrip
from app.widgets.variations import VariationsPanel

THUMB_SIDE = 192
STAGE = QRectF(0, 0, 256, 256)  # where a generated picture forms (its own space, not the photo's)


@dataclass
class _Job:
    """What a running (or finished) job was started from."""

    mode: str
    settings: JobSettings
    image: np.ndarray | None
    mask: np.ndarray | None
    offset: QPointF  # where results sit in image coordinates (out-painting grows up/left)
    target: QRectF  # where previews are drawn
    num_scales: int = 0

    @property
    def focus(self) -> QRectF | None:
        """Where the strip zooms in: the masked area and some context, as a square if it fits.

        A small mask on a large photo would otherwise look the same in every thumbnail.
        """
        if self.mask is None or not self.mask.any():
            return None
        rows = np.flatnonzero(self.mask.any(axis=1))
        cols = np.flatnonzero(self.mask.any(axis=0))
        height, width = self.mask.shape
        side = min(max(rows[-1] - rows[0], cols[-1] - cols[0]) * 1.6 + 16, width, height)
        cx, cy = (cols[0] + cols[-1] + 1) / 2, (rows[0] + rows[-1] + 1) / 2
        x = min(max(cx - side / 2, 0), width - side)
        y = min(max(cy - side / 2, 0), height - side)
        return QRectF(x, y, side, side)


class JobController(QObject):
    status_message = Signal(str)

    def __init__(
        self,
        window: QWidget,
        bridge: EngineBridge,
        document: Document,
        panel: GeneratePanel,
        strip: ScaleProgressStrip,
        variations: VariationsPanel,
        canvas: Canvas,
        prompts: Prompts,
        settings: AppSettings,
    ):
        super().__init__(window)
        self._window, self._bridge, self._doc = window, bridge, document
        self._panel, self._strip, self._variations = panel, strip, variations
        self._canvas, self._prompts, self._settings = canvas, prompts, settings
        # Opens a generated picture as a new document; False when the user kept the old one.
        self.open_document: Callable[[np.ndarray, str], bool] = lambda _image, _title: False
        self._job: _Job | None = None
        self._estimate_job: str | None = None
        self._results: list = []
        self._result_job: _Job | None = None

        panel.generate_requested.connect(self.generate)
        panel.mode_changed.connect(lambda _m: self.update_blocker())
        panel.mode_changed.connect(lambda _m: self.request_estimate())
        panel.upscale_factor.currentIndexChanged.connect(lambda _i: self.request_estimate())
        panel.model_combo.currentIndexChanged.connect(lambda _i: self.request_estimate())
        panel.model_combo.currentIndexChanged.connect(lambda _i: self.update_blocker())
        document.image_replaced.connect(self.request_estimate)
        bridge.job_event.connect(self._on_background_event)
        panel.instruction.textChanged.connect(lambda _t: self.update_blocker())
        panel.limit_to_mask.toggled.connect(lambda _on: self.update_blocker())
        panel.mode_changed.connect(lambda mode: canvas.set_outpaint_mode(mode == "outpaint"))
        canvas.set_outpaint_mode(panel.mode() == "outpaint")
        strip.cancel_requested.connect(self.cancel)
        variations.selected.connect(self.show_variation)
        variations.apply_requested.connect(self.apply)
        variations.discard_requested.connect(self.discard)
        variations.vary_requested.connect(self.vary)
        variations.split_changed.connect(canvas.set_compare_split)
        bridge.busy_changed.connect(panel.set_busy)
        bridge.model_loading.connect(self._on_model_loading)
        bridge.scale_progress.connect(self._on_progress)
        bridge.job_finished.connect(self._on_finished)
        bridge.job_failed.connect(self._on_failed)
        bridge.job_cancelled.connect(self._on_cancelled)
        document.changed.connect(self.update_blocker)
        panel.set_history(settings.instruction_history())
        self.update_blocker()

    @property
    def busy(self) -> bool:
        return self._bridge.busy

    @property
    def results(self) -> list:
        return list(self._results)

    # -- starting jobs ------------------------------------------------------------------------

    def blocker(self) -> str | None:
        """Why the current mode cannot run on this document, in words the user can act on."""
        mode = self._panel.mode()
        if mode in ("inpaint", "outpaint", "edit", "upscale") and not self._doc.has_image:
            return "Open an image first: File ▸ Open, or drop one onto the window."
        if mode == "edit" and not self._panel.instruction.text().strip():
            return "Type an instruction first, e.g. 'make the sky stormy'."
        if self._panel.prompted() and not self._panel.instruction.text().strip():
            return "Type what to paint first, e.g. 'a wooden bench in the grass'."
        if mode == "edit" and self._panel.limit_to_mask.isChecked() and not self._has_mask():
            return "Paint the area to change, or untick Limit to mask."
        if mode == "inpaint" and not self._has_mask():
            return "Paint over the part to regenerate (B brush, R rectangle, L lasso)."
        return None

    def _has_mask(self) -> bool:
        return self._doc.mask is not None and bool(self._doc.mask.any())

    def update_blocker(self) -> None:
        self._panel.set_blocker(None if self.busy else self.blocker())

    def generate(self) -> None:
        if self.busy:
            return
        reason = self._panel.mode_reason(self._panel.mode()) or self.blocker()
        if reason:
            self.status_message.emit(reason)
            return
        settings = self._panel.settings()
        if settings.instruction:
            self._panel.set_history(self._settings.add_instruction(settings.instruction))
        doc = self._doc
        width, height = doc.size
        if settings.mode == "inpaint":
            request = build_inpaint(settings, doc.image, doc.mask)
            job = _Job("inpaint", settings, doc.image, request.mask, QPointF(), self._rect())
        elif settings.mode == "outpaint":
            sides = self._canvas.outpaint_sides() or self._prompts.outpaint_sides(
                self._window, width, height
            )  # dragged edges, else the dialog
            if sides is None:
                return
            request = build_outpaint(
                settings, doc.image, sides.left, sides.right, sides.top, sides.bottom
            )
            offset = QPointF(-sides.left, -sides.top)
            grown = QRectF(
                offset.x(), offset.y(), width + sides.left + sides.right,
                height + sides.top + sides.bottom,
            )  # fmt: skip
            job = _Job("outpaint", settings, doc.image, None, offset, grown)
        elif settings.mode == "edit":
            mask = doc.mask.copy() if settings.limit_to_mask and doc.mask is not None else None
            request = build_edit(settings, doc.image, mask)
            job = _Job("edit", settings, doc.image, request.mask, QPointF(), self._rect())
        elif settings.mode == "upscale":
            request = build_upscale(settings, doc.image)
            job = _Job("upscale", settings, doc.image, None, QPointF(), self._rect())
        elif settings.mode == "generate":
            request = build_generate(settings)
            job = _Job("generate", settings, None, None, QPointF(), QRectF(STAGE))
        else:
            self.status_message.emit(self._panel.mode_reason(settings.mode) or "Not available.")
            return
        self._submit(request, job, f"{self._panel.generate_button.text().rstrip('…')}…")

    def request_estimate(self) -> None:
        """Ask the engine's planner what an upscale of this picture would take (Upscale mode),
        or how a text model (VAREdit, Infinity: registry models) will fit in memory in the
        other modes.

        A background job (it may load the model into the cache, which the run reuses); the
        answer arrives as its result's note and replaces any earlier estimate.
        """
        panel = self._panel
        entry = panel.current_model()
        planned = entry is not None and FAMILIES[entry.family].condition == "text"
        if panel.mode() != "upscale" and planned and entry.choice.model_id:
            self._estimate_job = self._bridge.submit_job(PlanRequest(entry.choice))
            panel.set_estimate("Planning memory…")
            return
        if panel.mode() != "upscale" or not self._doc.has_image or entry is None:
            panel.set_estimate("")
            return
        request = build_upscale(panel.settings(reroll=False), self._doc.image, plan_only=True)
        self._estimate_job = self._bridge.submit_job(request)
        panel.set_estimate("Estimating…")

    def _on_background_event(self, event) -> None:
        if getattr(event, "job_id", None) != self._estimate_job:
            return
        if isinstance(event, JobFinished):
            self._panel.set_estimate(" ".join(event.result.notes))
        elif isinstance(event, JobFailed):
            self._panel.set_estimate(event.message)

    def vary(self, index: int, keep_scales: int) -> None:
        """Resample the fine scales of variation ``index``, keeping its first ``keep_scales``."""
        job, results = self._result_job, self._results
        if self.busy or job is None or not 0 <= index < len(results):
            return
        variation = results[index]
        if not variation.tokens:
            self.status_message.emit("This result cannot be varied: it has no scale tokens.")
            return
        settings = self._panel.settings()
        if job.mode == "inpaint":
            image, mask = job.image, job.mask
        else:  # a generated picture: vary all of it
            image = variation.image
            mask = np.ones(image.shape[:2], bool)
        request = build_vary(settings, image, mask, variation, keep_scales)
        new_job = _Job(job.mode, settings, image, mask, job.offset, job.target)
        self._submit(request, new_job, f"Varying details of #{index + 1}…")

    def _submit(self, request, job: _Job, title: str) -> None:
        self.discard()
        self._job = job
        if job.mode == "generate":
            self._canvas.set_stage(job.target)
        self._strip.start(title)
        self._bridge.submit(request)
        self._panel.set_blocker(None)
        self.status_message.emit(title)

    def cancel(self) -> None:
        if self.busy:
            self._bridge.cancel()
            self._strip.cancelling()
            self.status_message.emit("Cancelling…")

    def _rect(self) -> QRectF:
        width, height = self._doc.size
        return QRectF(0, 0, width, height)

    # -- engine events --------------------------------------------------------------------------

    def _on_model_loading(self, event) -> None:
        self._strip.model_loading(event.name, event.bytes_done, event.bytes_total)

    def _on_progress(self, event) -> None:
        pixmap = None if event.preview is None else to_pixmap(event.preview)
        region = None if event.region is None or self._job is None else self._region(event.region)
        self._strip.progress(
            event.sample_index,
            event.num_samples,
            event.scale_index,
            event.num_scales,
            pixmap if region is not None else self._focused(pixmap),
            (event.window_index, event.num_windows),
        )
        if self._job is not None:
            self._job.num_scales = event.num_scales
            if pixmap is not None and self._job.mode != "upscale":  # tiles show in the strip
                target = region or self._job.target
                if self._job.mode == "generate":
                    target = fit_rect((pixmap.width(), pixmap.height()), target)
                self._canvas.set_preview(pixmap, target)

    def _region(self, region: tuple[int, int, int, int]) -> QRectF:
        """Where a window-sized preview sits on the canvas (out-painting shifts the origin).

        The engine sends only the edited window's pixels: a small edit of a large photo
        never converts or draws the whole photo per scale.
        """
        x0, y0, x1, y1 = region
        return QRectF(x0, y0, x1 - x0, y1 - y0).translated(self._job.offset)

    def _focused(self, pixmap: QPixmap | None) -> QPixmap | None:
        """The part of a whole-picture preview the strip shows (see ``_Job.focus``)."""
        job = self._job
        focus = None if job is None or pixmap is None else job.focus
        if focus is None:
            return pixmap
        s = pixmap.height() / job.target.height()
        crop = QRectF(focus.x() * s, focus.y() * s, focus.width() * s, focus.height() * s)
        return pixmap.copy(crop.toAlignedRect())

    def _on_finished(self, event) -> None:
        job, self._job = self._job, None
        self._canvas.clear_preview()
        result = event.result
        self._results = list(result.variations)
        self._result_job = job
        count = len(self._results)
        thumbs = [to_pixmap(thumbnail(_changed_part(v), THUMB_SIDE)) for v in self._results]
        num_scales = job.num_scales if job else 0
        can_vary = job is not None and job.mode in ("inpaint", "generate")
        seeds = [v.seed for v in self._results]
        new_picture = job is not None and job.mode in ("generate", "upscale")
        self._variations.set_variations(thumbs, seeds, num_scales, can_vary, not new_picture)
        notes = " ".join(result.notes)
        message = f"{count} variation{'s' if count != 1 else ''} ready — pick one, then Apply."
        self._strip.finish(message, result.elapsed_s)
        self.status_message.emit(f"{message} {notes}".strip())
        self.update_blocker()

    def _on_failed(self, message: str, detail: str) -> None:
        self._job = None
        self._canvas.clear_preview()
        self._canvas.set_stage(None)
        self._strip.stop("Failed — the image is unchanged.")
        self.status_message.emit(message)
        self._prompts.error(self._window, message, detail)
        self.update_blocker()

    def _on_cancelled(self, _job_id: str) -> None:
        self._job = None
        self._canvas.clear_preview()
        self._canvas.set_stage(None)
        self._strip.stop("Cancelled — the image is unchanged.")
        self.status_message.emit("Cancelled.")
        self.update_blocker()

    # -- results ----------------------------------------------------------------------------------

    def show_variation(self, index: int) -> None:
        if not 0 <= index < len(self._results) or self._result_job is None:
            return
        if self._result_job.mode == "upscale":  # another size: it opens as its own document
            return
        variation = self._results[index]
        offset = self._result_job.offset
        if variation.box is not None:  # only the edited window: no 12 MP conversion per click
            offset = offset + QPointF(variation.box[0], variation.box[1])
        self._canvas.set_candidate(to_pixmap(_changed_part(variation)), offset)

    def apply(self, index: int) -> None:
        if not 0 <= index < len(self._results) or self._result_job is None:
            return
        variation = self._results[index]
        mode = self._result_job.mode
        if mode in ("generate", "upscale"):  # a new picture, never pasted over the photo
            title = (
                f"Upscaled ×{self._result_job.settings.scale}"
                if mode == "upscale"
                else f"Generated (seed {variation.seed})"
            )
            if not self.open_document(variation.image, title):
                return
            message = f"Opened variation {index + 1} as a new document."
        else:  # the tint would cover the result; undo brings the mask back with the pixels
            empty = np.zeros(variation.image.shape[:2], bool)
            text = f"Apply variation {index + 1}"
            self._doc.apply_image(variation.image, text, empty, within=self._within(variation))
            message = f"Applied variation {index + 1} (Ctrl+Z to undo)."
        self.discard()
        self._strip.idle(message)
        self.status_message.emit(message)

    def _within(self, variation) -> Box | None:
        """The result's changed box, when clearing the mask changes nothing outside it either
        (strokes painted elsewhere while the job ran must come back with Undo)."""
        mask = self._doc.mask
        if variation.box is None or mask is None or mask.shape != variation.image.shape[:2]:
            return None
        box = Box(*variation.box)
        return box if int(mask[box.slices].sum()) == int(mask.sum()) else None

    def discard(self) -> None:
        if self._results:
            self._strip.idle("Variations discarded — the image is unchanged.")
        self._results = []
        self._result_job = None
        self._variations.clear()
        self._canvas.set_candidate(None)
        self._canvas.set_stage(None)

    def reset(self) -> None:
        """A new document: cancel what runs for the old one and forget its results."""
        self.cancel()
        self.discard()
        self._canvas.clear_preview()


def _changed_part(variation) -> np.ndarray:
    """The pixels a result may have changed: its window (in-paint) or all of it."""
    if variation.box is None:
        return variation.image
    x0, y0, x1, y1 = variation.box
    return variation.image[y0:y1, x0:x1]
