"""VAR as a :class:`~engine.models.family.FamilyModel`: class-conditional, codebook ids."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.api import UNCONDITIONAL_CLASS, Sampling
from engine.imaging.preview import LinearPreview, probe_image
from engine.imaging.tensors import image_to_tensor, tensor_to_image
from engine.models.family import Condition, Grid, LatentCallback, Sampled
from engine.models.var.transformer import VAR
from engine.models.var.vqvae import VQVAE
from engine.runtime.cancel import UserFacingError
from engine.runtime.devices import make_generator
from engine.samplers.hooks import TokenOverride, teacher_force
from engine.samplers.var import sample_scales


@dataclass
class VarModel:
    """A VQVAE + VAR pair on one device; ``dtype`` is what the transformer blocks run in."""

    vqvae: VQVAE
    var: VAR
    device: torch.device
    dtype: torch.dtype
    name: str
    family: str = "var"
    _preview_map: LinearPreview | None = field(default=None, init=False, repr=False)

    @property
    def patch_nums(self) -> tuple[int, ...]:
        return self.var.cfg.patch_nums

    @property
    def resolution(self) -> int:
        return self.patch_nums[-1] * self.vqvae.cfg.downsample

    @property
    def schedule(self) -> tuple[Grid, ...]:
        return tuple((pn, pn) for pn in self.patch_nums)

    @property
    def num_classes(self) -> int:
        return self.var.cfg.num_classes

    @torch.inference_mode()
    def encode_tokens(self, rgb: np.ndarray) -> list[torch.Tensor]:
        return self.vqvae.encode_ids(image_to_tensor(rgb, self.device))

    def teacher_force(
        self, source: Sequence[torch.Tensor], keep: Sequence[torch.Tensor]
    ) -> TokenOverride:
        return teacher_force(source, keep, self.vqvae.quantize.embedding)

    def class_label(self, label: int | None) -> torch.Tensor:
        """The label row to condition on; the null class for ``None`` or a negative label."""
        if label is None or label == UNCONDITIONAL_CLASS or label < 0:
            label = self.num_classes
        if not 0 <= label <= self.num_classes:
            raise UserFacingError(
                f"Class {label} does not exist: this model knows classes 0–{self.num_classes - 1}."
            )
        return torch.tensor([label], device=self.device)

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
        output = sample_scales(
            self.var,
            self.vqvae.quantize,
            self.class_label(condition.class_label),
            cfg=sampling.cfg,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            smooth=sampling.smooth,
            generator=make_generator(self.device, seed),
            override=override,
            on_scale=None if on_scale is None else (lambda si, f_hat, ids: on_scale(si, f_hat)),
            check_cancelled=check_cancelled,
            cfg_skip_last=sampling.cfg_skip_last,
            prune_ratio=sampling.prune_ratio,
            kv_budget=sampling.kv_budget,
            prune_scales=sampling.prune_scales,
        )
        return Sampled(latent=output.f_hat, tokens=output.ids)

    @torch.inference_mode()
    def decode(self, latent: torch.Tensor) -> np.ndarray:
        return tensor_to_image(self.vqvae.decode(latent))[0]

    def preview(self, latent: torch.Tensor, scale_index: int) -> np.ndarray:
        """A linear latent -> RGB map (see ``engine.imaging.preview``), fitted on first use."""
        if self._preview_map is None:
            self._preview_map = self.fit_preview()
        return self._preview_map(latent)

    @torch.inference_mode()
    def fit_preview(self) -> LinearPreview:
        """One probe encode + decode at half the model's side: a quarter of one decode."""
        side = max(self.vqvae.cfg.downsample * 4, self.resolution // 2)
        image = image_to_tensor(probe_image(side), self.device)
        latent = self.vqvae.features(image)
        return LinearPreview.fit(latent.float(), self.vqvae.decode(latent).float())

    def memory_bytes(self) -> int:
        tensors = [*self.vqvae.parameters(), *self.var.parameters(), *self.var.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)
