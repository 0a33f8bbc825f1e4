"""Out-painting: grow the canvas and generate the new area window by window, as one picture.

Every window continues what is already there:

* the windows are planned by :func:`engine.imaging.outpaint_plan.outpaint_windows`: the
  fewest squares that cover the new area, outward from the photo, each overlapping the photo
  or its predecessors by a quarter of its side;
* inside a window, every token whose footprint holds a still-unknown pixel is generated; the
  others (photo and windows already made) are teacher-forced. Unknown pixels are never
  teacher-forced: the encoder sees them only through a cheap Telea fill at the model's
  resolution, which only feeds the always-forced 1x1 scale a sensible mean colour;
* the window's new pixels are written whole; its output is blended over the pixels of earlier
  windows on a ramp next to them (the photo itself stays bit-exact), and colour-matched on a
  ring of known pixels around the new ones.

Windows work at the model's resolution; a window's side on the canvas is the model's own, or
a third of the photo's shorter side when that is larger, so a big photo is continued at a
scale where the model still sees its content rather than a patch of texture.
"""

from __future__ import annotations

import math
import time

import cv2
import numpy as np
import torch

from engine.api import JobResult, OutpaintRequest, Variation
from engine.imaging.compositing import Window, boundary_ring, match_colors
from engine.imaging.masks import footprint_any
from engine.imaging.outpaint_plan import outpaint_windows
from engine.models.family import Condition, FamilyModel
from engine.pipelines.common import load, sample_one
from engine.pipelines.inpaint import (
    COLOR_RING_PX,
    PreviewCompositor,
    WindowJob,
    keep_masks,
    pad_to_square,
    resize,
    to_window,
)
from engine.pipelines.quick_fill import is_quick_fill, quick_fill
from engine.runtime.cancel import UserFacingError
from engine.runtime.jobs import JobContext

MAX_SIDE = 20_000
CONTEXT_FRACTION = 3  # a window spans at least 1/3 of the photo's shorter side
OVERLAP_FRACTION = 4  # windows overlap known pixels by 1/4 of their side
COARSE_FRACTION = 4  # scales up to 1/4 of the finest grid's side follow the smooth fill


def extended_canvas(image: np.ndarray, request: OutpaintRequest) -> tuple[np.ndarray, np.ndarray]:
    """The bigger canvas (new area pre-filled by edge replication) and its new-area mask."""
    sides = (request.top, request.bottom, request.left, request.right)
    if min(sides) < 0:
        raise UserFacingError("Extensions must be zero or more pixels.")
    if max(sides) == 0:
        raise UserFacingError("Nothing to out-paint: extend at least one side.")
    h, w = image.shape[:2]
    new_h, new_w = h + request.top + request.bottom, w + request.left + request.right
    if max(new_h, new_w) > MAX_SIDE:
        raise UserFacingError(f"The result would be {new_w}×{new_h}; the limit is {MAX_SIDE} px.")
    canvas = cv2.copyMakeBorder(
        image, request.top, request.bottom, request.left, request.right, cv2.BORDER_REPLICATE
    )
    mask = np.ones((new_h, new_w), bool)
    mask[request.top : request.top + h, request.left : request.left + w] = False
    return canvas, mask


def window_plan(request: OutpaintRequest, photo_size: tuple[int, int], resolution: int):
    """(photo box on the canvas, windows in the order they run) for ``request``."""
    width, height = photo_size
    photo = Window(request.left, request.top, request.left + width, request.top + height)
    canvas = (width + request.left + request.right, height + request.top + request.bottom)
    side = max(resolution, math.ceil(min(width, height) / CONTEXT_FRACTION))
    return photo, outpaint_windows(photo, canvas, side, side // OVERLAP_FRACTION)


def blend_alpha(
    unknown: np.ndarray, made: np.ndarray, window: Window, canvas: tuple[int, int], ramp: int
) -> np.ndarray:
    """Alpha of a window's output: 1 on unknown pixels, a ramp over earlier windows' pixels
    next to them (fading out before the window's edge), 0 on the photo."""
    alpha = unknown.astype(np.float32)
    if ramp <= 0 or not made.any() or not unknown.any():
        return alpha
    distance = cv2.distanceTransform((~unknown).astype(np.uint8), cv2.DIST_L2, 5)
    over = np.clip(1.0 - distance / ramp, 0.0, 1.0)
    h, w = unknown.shape
    rows, cols = np.arange(h, dtype=np.float32)[:, None], np.arange(w, dtype=np.float32)[None]
    edge = np.full((h, w), np.inf, np.float32)
    width, height = canvas
    if window.x0 > 0:
        edge = np.minimum(edge, cols + 1)
    if window.x1 < width:
        edge = np.minimum(edge, w - cols)
    if window.y0 > 0:
        edge = np.minimum(edge, rows + 1)
    if window.y1 < height:
        edge = np.minimum(edge, h - rows)
    over = over * np.clip(edge / ramp, 0.0, 1.0)
    over = over * over * (3.0 - 2.0 * over)  # smoothstep: no kink at either end of the ramp
    return np.where(unknown, 1.0, np.where(made, over, 0.0)).astype(np.float32)


def smooth_fill(rgb: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """``rgb`` with ``holes`` filled by push-pull: known colours averaged down a pyramid and
    pulled back up, a smooth low-frequency continuation (no streaks, unlike edge replication)."""
    if not holes.any() or holes.all():
        return rgb
    colour = rgb.astype(np.float32) * (~holes)[..., None]
    weight = (~holes).astype(np.float32)
    levels = [(colour, weight)]
    while min(weight.shape) > 1:
        size = (max(1, weight.shape[1] // 2), max(1, weight.shape[0] // 2))
        colour = cv2.resize(colour, size, interpolation=cv2.INTER_AREA).reshape(*size[::-1], 3)
        weight = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
        levels.append((colour, weight))
    estimate = levels[-1][0] / np.maximum(levels[-1][1], 1e-6)[..., None]
    for colour, weight in reversed(levels[:-1]):
        up = cv2.resize(estimate, weight.shape[::-1], interpolation=cv2.INTER_LINEAR)
        estimate = colour + (1.0 - weight)[..., None] * up.reshape(colour.shape)
    filled = np.clip(np.rint(estimate), 0, 255).astype(np.uint8)
    return np.where(holes[..., None], filled, rgb)


def coarse_and_known(keep: list | None, schedule) -> list:
    """Known tokens at every scale, and every token of the coarse scales (side at most a
    quarter of the finest): the window's layout and colours continue the known pixels, via
    their smooth fill, while all detail in the new area is generated."""
    finest = max(max(grid) for grid in schedule)
    out = []
    for si, (h, w) in enumerate(schedule):
        if max(h, w) * COARSE_FRACTION <= finest:
            out.append(torch.ones(1, h * w, dtype=torch.bool))
        else:
            out.append(torch.zeros(1, h * w, dtype=torch.bool) if keep is None else keep[si])
    return out


def window_seed(seed: int, index: int) -> int:
    """A seed per (variation, window): windows must not share one random stream (repeats),
    and variation ``seed + 1`` must not replay this one's second window."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0] >> 1)


class Outpainter:
    """One variation's chain of windows over a canvas that it fills in place."""

    def __init__(self, ctx, model: FamilyModel, request: OutpaintRequest, canvas, new_area):
        self.ctx, self.model, self.request = ctx, model, request
        self.canvas, self.unknown, self.new_area = canvas, new_area.copy(), new_area
        self.size = canvas.shape[1::-1]

    def fill(self, window: Window, seed: int, step: tuple[int, int, int, int]) -> None:
        """Generate ``window``'s unknown pixels, continuing its known ones. ``step`` is
        (sample, samples, window, windows) for the job's progress."""
        unknown = self.unknown[window.slices]
        if not unknown.any():
            return
        self.ctx.check_cancelled()
        job, override = self._prepare(window)
        frame = PreviewCompositor(self.canvas, self.unknown, job)
        sample, samples, index, count = step
        condition = Condition(class_label=self.request.class_label, text=self.request.prompt)
        generated, _ = sample_one(
            self.ctx, self.model, condition, self.request.sampling, window_seed(seed, index),
            sample, samples, override, frame, window=(index, count),
        )  # fmt: skip
        self._paste(window, to_window(generated, job), unknown)
        unknown[...] = False

    def _prepare(self, window: Window):
        model = self.model
        square_rgb, pad = pad_to_square(self.canvas[..., :3], window)
        square_unknown, _ = pad_to_square(self.unknown, window)
        model_rgb = np.ascontiguousarray(resize(square_rgb, model.resolution))
        holes = footprint_any(square_unknown, model.resolution, model.resolution)
        source = model.encode_tokens(smooth_fill(model_rgb, holes))
        keep = coarse_and_known(keep_masks(square_unknown, model.schedule), model.schedule)
        job = WindowJob(window, square_rgb.shape[0], pad, source, keep)
        return job, model.teacher_force(source, keep)

    def _paste(self, window: Window, generated: np.ndarray, unknown: np.ndarray) -> None:
        made = self.new_area[window.slices] & ~unknown
        ramp = max(self.request.feather_px, min(window.width, window.height) // 8)
        alpha = blend_alpha(unknown, made, window, self.size, ramp)
        region = self.canvas[window.slices]
        rgb = region[..., :3]
        write = alpha > 0
        if self.request.color_match:
            ring = boundary_ring(unknown, COLOR_RING_PX) & ~unknown
            generated = match_colors(generated, rgb, write, ring)
        generated = self._ease_from_photo(generated, rgb, unknown, made, ramp)
        a = alpha[write][:, None]
        blended = a * generated[write].astype(np.float32) + (1 - a) * rgb[write].astype(np.float32)
        rgb[write] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)

    @staticmethod
    def _ease_from_photo(generated, rgb, unknown, made, ramp: int) -> np.ndarray:
        """Next to the photo (which must stay bit-exact) the new pixels start as a continuation
        of its edge and turn into the generated ones over ``ramp`` pixels."""
        photo = ~unknown & ~made
        if not photo.any():
            return generated
        distance = cv2.distanceTransform((~photo).astype(np.uint8), cv2.DIST_L2, 5)
        beta = np.clip(distance / ramp, 0.0, 1.0)[..., None]
        beta = beta * beta * (3.0 - 2.0 * beta)
        # The edge itself continues row by row (the canvas holds the edge replicated there);
        # a few pixels out that gives way to the smooth fill, so no streak runs outward.
        replicated = np.exp(-distance / max(1.0, ramp / 4))[..., None]
        smooth = smooth_fill(np.ascontiguousarray(rgb), unknown).astype(np.float32)
        start = replicated * rgb.astype(np.float32) + (1 - replicated) * smooth
        eased = beta * generated.astype(np.float32) + (1 - beta) * start
        return np.clip(np.rint(eased), 0, 255).astype(np.uint8)


def run_outpaint(request: OutpaintRequest, ctx: JobContext) -> JobResult:
    started = time.perf_counter()
    image = np.asarray(request.image)
    canvas, new_area = extended_canvas(image, request)
    if is_quick_fill(request.model):
        result = quick_fill(canvas, new_area, request.model.model_id)
        variation = Variation(image=result, seed=request.sampling.seed)
        return JobResult((variation,), time.perf_counter() - started, ("Quick fill (no model)",))
    model = load(ctx, request.model)
    _, windows = window_plan(request, image.shape[1::-1], model.resolution)
    variations = []
    for sample in range(request.samples):
        seed = request.sampling.seed + sample
        painter = Outpainter(ctx, model, request, canvas.copy(), new_area)
        for index, window in enumerate(windows):
            painter.fill(window, seed, (sample, request.samples, index, len(windows)))
        variations.append(Variation(image=painter.canvas, seed=seed))
    return JobResult(tuple(variations), time.perf_counter() - started)
