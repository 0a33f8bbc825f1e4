"""Test doubles for the app: scripted dialogs and a small engine runner with real events.

The runner goes through the real ``Engine`` (its thread, queue, cancel tokens and events); it
only replaces the model with cheap numpy/torch work, so GUI tests stay fast and deterministic.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PySide6.QtWidgets import QWidget

from app.choices import ExportChoice, Sides
from app.prompts import Prompts
from engine.api import (
    GenerateRequest,
    InpaintRequest,
    JobResult,
    OutpaintRequest,
    ScaleProgress,
    Variation,
)


class ScriptedPrompts(Prompts):
    """Answers every question from attributes and records what was asked; never blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple] = []
        self.errors: list[tuple[str, str]] = []
        self.unsaved_answer = "discard"
        self.restore_answer = True
        self.overwrite_answer = False
        self.open_answer: str | None = None
        self.save_answer: str | None = None
        self.sides: Sides | None = None
        self.export_answer: ExportChoice | None = None
        self.import_answer: str | None = None

    def unsaved_changes(self, parent: QWidget, name: str) -> str:
        self.asked.append(("unsaved", name))
        return self.unsaved_answer

    def restore_autosave(self, parent: QWidget | None, description: str) -> bool:
        self.asked.append(("restore", description))
        return self.restore_answer

    def overwrite_original(self, parent: QWidget, path: Path) -> bool:
        self.asked.append(("overwrite", str(path)))
        return self.overwrite_answer

    def open_path(self, parent: QWidget, folder: str) -> str | None:
        return self.open_answer

    def save_path(self, parent: QWidget, suggested: str, title: str = "Save image") -> str | None:
        self.asked.append(("save_path", suggested))
        return self.save_answer

    def mask_open_path(self, parent: QWidget, folder: str) -> str | None:
        return self.open_answer

    def import_folder(self, parent: QWidget, folder: str) -> str | None:
        return self.import_answer

    def export(self, parent: QWidget, suggested: str) -> ExportChoice | None:
        self.asked.append(("export", suggested))
        return self.export_answer

    def outpaint_sides(self, parent: QWidget, width: int, height: int) -> Sides | None:
        self.asked.append(("outpaint", width, height))
        return self.sides

    def error(self, parent: QWidget | None, message: str, detail: str = "") -> None:
        self.errors.append((message, detail))

    def info(self, parent: QWidget | None, title: str, message: str) -> None:
        self.asked.append(("info", title, message))


def result_color(seed: int) -> np.ndarray:
    return np.array([(seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256], np.uint8)


class ScaleRunner:
    """A pluggable engine runner: per sample and scale it works, checks cancel, emits a preview.

    ``work_s`` of torch matmuls per scale makes the job genuinely CPU-busy; ``sleep_s`` makes it
    slow without load. Masked pixels of the result get a colour derived from the seed.
    """

    def __init__(
        self,
        num_scales: int = 4,
        sleep_s: float = 0.0,
        work_s: float = 0.0,
        fail: BaseException | None = None,
    ):
        self.num_scales = num_scales
        self.sleep_s = sleep_s
        self.work_s = work_s
        self.fail = fail
        self.requests: list = []
        self.emitted_after_cancel = 0
        self.scales_run = 0

    def __call__(self, request, ctx) -> JobResult:
        self.requests.append(request)
        started = time.perf_counter()
        if self.fail is not None:
            raise self.fail
        image, mask = self._source(request)
        variations = []
        for sample in range(request.samples):
            seed = request.sampling.seed + sample
            for scale in range(self.num_scales):
                ctx.check_cancelled()
                self._work()
                if ctx.token.cancelled:
                    self.emitted_after_cancel += 1
                self.scales_run += 1
                preview = np.ascontiguousarray(image[::4, ::4, :3] // (self.num_scales - scale))
                ctx.emit(
                    ScaleProgress(
                        ctx.job_id, sample, request.samples, scale, self.num_scales, preview
                    )
                )
            result = image.copy()
            result[mask] = result_color(seed)[: result.shape[2]]
            tokens = tuple(np.full(k * k, seed, np.int64) for k in range(1, self.num_scales + 1))
            variations.append(Variation(result, seed, tokens))
        return JobResult(tuple(variations), time.perf_counter() - started)

    def _source(self, request) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(request, InpaintRequest):
            return request.image, request.mask
        if isinstance(request, OutpaintRequest):
            pad = ((request.top, request.bottom), (request.left, request.right), (0, 0))
            image = np.pad(request.image, pad, mode="edge")
            mask = np.ones(image.shape[:2], bool)
            h, w = request.image.shape[:2]
            mask[request.top : request.top + h, request.left : request.left + w] = False
            return image, mask
        assert isinstance(request, GenerateRequest)
        return np.zeros((64, 64, 3), np.uint8), np.ones((64, 64), bool)

    def _work(self) -> None:
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.work_s:
            end = time.perf_counter() + self.work_s
            a = torch.randn(160, 160)
            while time.perf_counter() < end:
                a = torch.tanh(a @ a)


def gradient_image(width: int = 96, height: int = 64) -> np.ndarray:
    """A deterministic gradient picture (no flat areas, so changes are visible)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], axis=-1).astype(np.uint8)


def qimage_pixels(image) -> np.ndarray:
    """QImage -> (H, W, 4) uint8 RGBA, an owned array: what a grabbed widget shows."""
    from PySide6.QtGui import QImage

    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = rgba.height(), rgba.width()
    buffer = np.frombuffer(rgba.constBits(), np.uint8, count=rgba.sizeInBytes())
    return buffer.reshape(h, rgba.bytesPerLine())[:, : w * 4].reshape(h, w, 4).copy()
