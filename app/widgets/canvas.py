"""The image canvas: zoom, pan, checkerboard, mask overlay, live preview and compare.

A ``QGraphicsView`` whose scene unit is one image pixel. Zoom is the view transform only, so
"100%" means one image pixel per *device* pixel (scale = 1 / devicePixelRatio) and high-DPI
screens stay sharp. Mouse gestures in image coordinates go to ``MaskToolController``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QPainter,
    QPixmap,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from app import engine_access
from app.choices import Sides
from app.imaging import display_image, to_qimage
from app.state.document import Document
from app.state.tool_settings import ToolSettings
from app.widgets.canvas_input import ZOOM_STEP, CanvasInput
from app.widgets.canvas_items import CandidateItem, MaskOverlayItem, PreviewItem
from app.widgets.canvas_paint import (
    checker_brush,
    cosmetic_pen,
    draw_drop_highlight,
    draw_hint,
    draw_notice,
    draw_outpaint_frame,
)
from app.widgets.mask_tools import MaskToolController
from app.widgets.outpaint_frame import MAX_FACTOR, OutpaintFrame

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
BACKGROUND = QColor(38, 40, 44)
BRUSH_SCREEN_PX = 40  # a new document's brush: this wide on screen, whatever the photo's size


class Canvas(CanvasInput, QGraphicsView):
    zoom_changed = Signal(float)  # percent: image pixels to screen pixels
    pointer_moved = Signal(int, int)  # image pixel under the pointer
    outpaint_changed = Signal()  # an edge was dragged (out-paint mode)

    def __init__(self, document: Document, tools: ToolSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self._doc = document
        self._tools = tools
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._image_item = QGraphicsPixmapItem()
        self._candidate = CandidateItem()
        self._mask_item = MaskOverlayItem()
        self._preview = PreviewItem()
        self._shape = QGraphicsPathItem()
        self._cursor = QGraphicsEllipseItem()
        for z, item in enumerate(
            (self._image_item, self._candidate, self._mask_item, self._preview, self._shape)
        ):
            item.setZValue(z)
            self._scene.addItem(item)
        self._cursor.setZValue(10)
        self._scene.addItem(self._cursor)
        self._candidate.hide()
        self._preview.hide()
        self._cursor.hide()
        self._shape.setPen(cosmetic_pen(QColor(255, 255, 255), dashed=True))
        self._cursor.setPen(cosmetic_pen(QColor(255, 255, 255)))
        self._checker = checker_brush()
        self._controller = MaskToolController(document, tools, self._show_shape)
        self._pan_from: QPointF | None = None
        self._space = False
        self._show_original = False
        self._fitted_size: tuple[int, int] | None = None
        self._fit_mode = False  # "Fit" stays in force while the viewport resizes
        self._stage: QRectF | None = None  # a picture shown on its own, without the document
        self._view_before_stage: tuple[float, QPointF, bool] | None = None
        self._primed: tuple[np.ndarray, QImage] | None = None  # converted off the GUI thread
        self._drop_name: str | None = None  # a file dragged over the window
        self._busy_text = ""
        self._outpaint: OutpaintFrame | None = None  # set while the mode is Out-paint
        self._grow_timer = QTimer(self, singleShot=True, interval=120)
        self._grow_timer.timeout.connect(self._refresh_grow_preview)

        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # space-drag pans
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setBackgroundBrush(BACKGROUND)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # files dropped here go to the main window
        self.viewport().setAcceptDrops(False)
        self._mask_item.set_color(tools.color)
        self._mask_item.setOpacity(tools.opacity)

        document.image_replaced.connect(self._on_image_replaced)
        document.opened.connect(lambda: QTimer.singleShot(0, self._fit_new_document))
        document.mask_changed.connect(self._on_mask_changed)
        tools.changed.connect(self._on_tools_changed)
        tools.mask_params_changed.connect(self._grow_timer.start)

    # -- public API ---------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    @property
    def zoom_percent(self) -> float:
        return self.zoom * self.devicePixelRatioF() * 100.0

    def set_zoom(self, scale: float) -> None:
        self._fit_mode = False
        scale = min(MAX_ZOOM, max(MIN_ZOOM, scale))
        self.resetTransform()
        self.scale(scale, scale)
        self._update_sampling()
        self.zoom_changed.emit(self.zoom_percent)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / ZOOM_STEP)

    def actual_size(self) -> None:
        """100%: one image pixel per device pixel."""
        self.set_zoom(1.0 / self.devicePixelRatioF())
        self.centerOn(self._content_rect().center())

    def fit(self) -> None:
        rect = self._content_rect()
        if rect.isEmpty():
            return
        view = self.viewport().rect().adjusted(16, 16, -16, -16)
        scale = min(view.width() / rect.width(), view.height() / rect.height())
        self.set_zoom(min(scale, 8.0))
        self.centerOn(rect.center())
        self._fit_mode = True

    @property
    def fit_mode(self) -> bool:
        return self._fit_mode

    def resizeEvent(self, event) -> None:  # noqa: N802
        """Docks and panels settle after a result is applied; a fitted view stays fitted."""
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def map_to_image(self, pos: QPointF) -> QPointF:
        """Viewport position (float, logical pixels) -> image coordinates."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(pos)

    def set_candidate(self, pixmap: QPixmap | None, offset: QPointF | None = None) -> None:
        """Show a variation over the image (``offset`` places out-painted results)."""
        if pixmap is None:
            self._candidate.setPixmap(QPixmap())
            self._candidate.hide()
        else:
            self._candidate.setPixmap(pixmap)
            self._candidate.setPos(offset or QPointF(0, 0))
            self._candidate.setVisible(not self._show_original)
        tint = pixmap is None and not self._show_original and self._stage is None
        self._mask_item.setVisible(tint)  # the tint would hide results
        self._update_scene_rect()
        if self._stage is not None and pixmap is not None:
            self.set_stage(QRectF(self._candidate.sceneBoundingRect()))
        self.viewport().update()

    def set_stage(self, rect: QRectF | None) -> None:
        """Show only ``rect`` (a generated picture that is not part of the photo), fitted.

        The document is hidden meanwhile, never drawn under or over the picture; ``None``
        brings the document back with the view it had.
        """
        entering = rect is not None and self._stage is None
        leaving = rect is None and self._stage is not None
        if entering:
            center = self.mapToScene(self.viewport().rect().center())
            self._view_before_stage = (self.zoom, QPointF(center), self._fit_mode)
        self._stage = None if rect is None else QRectF(rect)
        staged = self._stage is not None
        self._image_item.setVisible(not staged)
        self._mask_item.setVisible(
            not staged and not self.has_candidate and not self._show_original
        )
        self._update_scene_rect()
        if staged:
            self.fit()
        elif leaving and self._view_before_stage is not None:
            zoom, center, fitted = self._view_before_stage
            self._view_before_stage = None
            self.set_zoom(zoom)
            self.centerOn(center)
            self._fit_mode = fitted
        self.viewport().update()

    @property
    def staged(self) -> bool:
        return self._stage is not None

    @property
    def has_candidate(self) -> bool:
        return not self._candidate.pixmap().isNull()

    def set_compare_split(self, fraction: float) -> None:
        self._candidate.set_split(fraction)

    def set_show_original(self, show: bool) -> None:
        """Hold ``\\``: hide the candidate and the preview to see the original."""
        self._show_original = show
        self._candidate.setVisible(self.has_candidate and not show)
        self._mask_item.setVisible(not show and not self.has_candidate and self._stage is None)

    def set_outpaint_mode(self, on: bool) -> None:
        """Out-paint mode: the picture's edges can be dragged outward to extend it."""
        self._outpaint = OutpaintFrame(*self._doc.size) if on else None
        self.viewport().update()

    def outpaint_sides(self) -> Sides | None:
        return None if self._outpaint is None else self._outpaint.sides()

    def reset_outpaint(self) -> None:
        if self._outpaint is not None:
            self._outpaint.reset(*self._doc.size)
            self.viewport().update()

    def prime_display(self, pixels: np.ndarray, image: QImage) -> None:
        """``image`` shows ``pixels`` (made on a loader thread): use it instead of converting."""
        self._primed = (pixels, image)

    def set_drop_target(self, name: str | None) -> None:
        """Highlight the canvas while a file that can be opened is dragged over the window."""
        self._drop_name = name
        self.viewport().update()

    @property
    def drop_name(self) -> str | None:
        return self._drop_name

    def set_busy_text(self, text: str) -> None:
        """A file is being read or written: say so on the canvas itself."""
        self._busy_text = text
        self.viewport().update()

    def set_preview(self, pixmap: QPixmap, target: QRectF) -> None:
        self._preview.show_preview(pixmap, target)

    def clear_preview(self) -> None:
        self._preview.clear()

    @property
    def preview_visible(self) -> bool:
        return self._preview.isVisible() and not self._preview.pixmap().isNull()

    # -- document and settings ----------------------------------------------------------------

    def _on_image_replaced(self) -> None:
        self.reset_outpaint()
        image, box = self._doc.image, self._doc.changed_box
        primed, self._primed = self._primed, None
        if image is None:
            self._image_item.setPixmap(QPixmap())
        elif (
            box is not None
            and primed is None
            and self._image_item.pixmap().size().toTuple() == self._doc.size
        ):
            self._repaint_box(image, box)
        else:
            ready = primed is not None and primed[0] is image
            self._image_item.setPixmap(
                QPixmap.fromImage(primed[1] if ready else display_image(image))
            )  # display_image's formats are shared by the pixmap, not converted again
        self._update_scene_rect()
        size = self._doc.size
        if size != self._fitted_size:
            self._fitted_size = size
            QTimer.singleShot(0, self.fit)  # after the layout has sized the viewport

    def _fit_new_document(self) -> None:
        """A new document is fitted and gets a brush of the same on-screen size every time."""
        if not self._doc.has_image:
            return
        self.fit()
        self._tools.set_size(round(BRUSH_SCREEN_PX / self.zoom))

    def _repaint_box(self, image, box) -> None:
        """Convert and draw only the changed box (a 100 px fill must not convert 12 MP)."""
        pixmap = self._image_item.pixmap()
        self._image_item.setPixmap(QPixmap())  # sole owner now: painting does not copy it
        painter = QPainter(pixmap)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(box.x0, box.y0, to_qimage(image[box.slices]))
        painter.end()
        self._image_item.setPixmap(pixmap)

    def _on_mask_changed(self, box) -> None:
        mask = self._doc.mask
        if mask is None:
            self._mask_item.reset(None)
            return
        if self._tools.show_grow:
            self._grow_timer.start()
        if box is None:
            self._mask_item.reset(mask)
        else:
            self._mask_item.update_box(mask, box)

    def _on_tools_changed(self) -> None:
        self._mask_item.setOpacity(self._tools.opacity)
        self._update_cursor(None)

    def _refresh_grow_preview(self) -> None:
        mask = self._doc.mask
        if mask is None:
            return
        if self._tools.show_grow and mask.any():
            alpha = engine_access.grow_feather_preview(
                mask, self._tools.grow_px, self._tools.feather_px
            )
            self._mask_item.show_alpha(alpha)
        else:
            self._mask_item.reset(mask)

    def grow_preview_alpha(self) -> np.ndarray | None:
        """What the grow/feather preview currently shows (for tests)."""
        if self._doc.mask is None:
            return None
        return engine_access.grow_feather_preview(
            self._doc.mask, self._tools.grow_px, self._tools.feather_px
        )

    # -- geometry -------------------------------------------------------------------------------

    def _content_rect(self) -> QRectF:
        if self._stage is not None:
            return QRectF(self._stage)
        rect = QRectF(0, 0, *self._doc.size)
        if self.has_candidate:
            rect = rect.united(self._candidate.sceneBoundingRect())
        return rect

    def _update_scene_rect(self) -> None:
        rect = self._content_rect()
        margin = max(rect.width(), rect.height(), 256) * max(0.5, MAX_FACTOR)  # room to out-paint
        self.setSceneRect(rect.adjusted(-margin, -margin, margin, margin))

    def _update_sampling(self) -> None:
        """Smooth up to 200%, crisp pixels beyond (zoomed far in, an editor must show pixels)."""
        smooth = self.zoom * self.devicePixelRatioF() < 2.0
        mode = Qt.TransformationMode
        for item in (self._image_item, self._candidate):
            item.setTransformationMode(
                mode.SmoothTransformation if smooth else mode.FastTransformation
            )

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        painter.fillRect(rect, BACKGROUND)
        content = self._content_rect()
        if content.isEmpty():
            return
        area = self.viewportTransform().mapRect(content)  # float: no 1 px seam at the edges
        painter.save()
        painter.resetTransform()  # screen-sized squares, whatever the zoom
        painter.fillRect(area, self._checker)
        painter.restore()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        """Screen-space layers over the scene: notices, the out-paint frame, the empty hint."""
        painter.save()
        painter.resetTransform()
        view = QRectF(self.viewport().rect())
        if self._drop_name is not None:
            draw_drop_highlight(painter, view)
            draw_notice(painter, view, f"Drop to open {self._drop_name}")
        elif self._busy_text:
            draw_notice(painter, view, self._busy_text)
        elif self._stage is not None:
            pass  # a generated picture on its own: nothing of the document's
        elif self._outpaint is not None and self._doc.has_image and not self.has_candidate:
            x0, y0, x1, y1 = self._outpaint.bounds()
            frame = QRectF(x0, y0, x1 - x0, y1 - y0)
            draw_outpaint_frame(painter, self.viewportTransform().mapRect(frame))
        elif not self._doc.has_image and not self.has_candidate:
            draw_hint(painter, view, "Open an image (Ctrl+O) or drop one here")
        painter.restore()
