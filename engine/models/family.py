"""The model-family seam: everything a pipeline may ask of a loaded model, and nothing more.

In-painting, out-painting, vary details, generation (and editing, super-resolution) are written
against :class:`FamilyModel` only, never against VAR or Infinity, so a new family gets every
pipeline by implementing this protocol (see ``docs/architecture.md``, "How to add a family").

Tokens are whatever a family's quantizer emits, batch first: VAR ids ``(B, h*w)``, Infinity bits
``(B, h*w, d)``. Pipelines never look inside them: they take them from :meth:`encode_tokens`,
hand them back through :meth:`teacher_force` and store them in results for "vary details".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from engine.api import Sampling
from engine.samplers.hooks import TokenOverride

Grid = tuple[int, int]  # (rows, columns) of one scale's token map

# (scale index, the latent accumulated so far) -> None: previews and progress.
LatentCallback = Callable[[int, torch.Tensor], None]


@dataclass(frozen=True)
class Condition:
    """What the next-scale loop is conditioned on; a family uses the fields it understands.

    ``reference`` is a source image at the model's resolution (VAREdit's scale-aligned
    reference, VARSR's low-resolution prefix), ``(H, W, 3)`` uint8.
    """

    class_label: int | None = None
    text: str | None = None
    reference: np.ndarray | None = None


@dataclass
class Sampled:
    """One run of the loop: the final latent (what :meth:`FamilyModel.decode` takes) and the
    tokens fed forward at each scale, after any override."""

    latent: torch.Tensor
    tokens: list[torch.Tensor]


@runtime_checkable
class FamilyModel(Protocol):
    """A loaded model of some family, placed on its device, ready to sample."""

    family: str
    name: str
    device: torch.device
    dtype: torch.dtype

    @property
    def resolution(self) -> int:
        """Side of the square image the model works at, in pixels."""
        ...

    @property
    def schedule(self) -> tuple[Grid, ...]:
        """Token grid of every scale, coarse to fine."""
        ...

    def encode_tokens(self, rgb: np.ndarray) -> list[torch.Tensor]:
        """Per-scale tokens (batch 1) of an ``(resolution, resolution, 3)`` uint8 image."""
        ...

    def teacher_force(
        self, source: Sequence[torch.Tensor], keep: Sequence[torch.Tensor]
    ) -> TokenOverride:
        """An override feeding ``source`` tokens where ``keep[si]`` ``(1, h*w)`` is True."""
        ...

    def sample(
        self,
        condition: Condition,
        sampling: Sampling,
        seed: int,
        *,
        override: TokenOverride | None = None,
        on_scale: LatentCallback | None = None,
        check_cancelled: Callable[[], None] | None = None,
    ) -> Sampled:
        """Run the coarse-to-fine loop once (batch 1) with a generator seeded by ``seed``."""
        ...

    def decode(self, latent: torch.Tensor) -> np.ndarray:
        """``(resolution, resolution, 3)`` uint8 image of a finished latent."""
        ...

    def preview(self, latent: torch.Tensor, scale_index: int) -> np.ndarray:
        """A small, cheap RGB image of a partial latent, for the live progress strip."""
        ...

    def memory_bytes(self) -> int:
        """What the loaded weights occupy, for the cache's budget and the Models window."""
        ...


def token_arrays(sampled: Sampled) -> tuple[np.ndarray, ...]:
    """Per-scale tokens of the first sample as numpy, to keep in a result ("vary details")."""
    return tuple(tokens[0].cpu().numpy().copy() for tokens in sampled.tokens)


def token_tensors(arrays: Sequence[np.ndarray]) -> list[torch.Tensor]:
    """The inverse of :func:`token_arrays`: batch-1 tensors a family's override accepts."""
    return [torch.as_tensor(np.asarray(array))[None] for array in arrays]
