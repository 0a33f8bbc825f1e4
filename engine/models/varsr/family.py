"""VARSR behind the model-family protocol (``engine.models.family.FamilyModel``).

The condition's ``reference`` is the low-resolution window already resized to the model's
512x512 (bicubic), as VARSR's prefix expects; ``seed`` reproduces the official run made after
``torch.manual_seed(seed)`` (the refiner always draws from the global CPU generator, so the
call forks that state instead of disturbing it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from engine.api import Sampling
from engine.imaging.preview import decode_preview
from engine.imaging.tensors import image_to_tensor, tensor_to_image
from engine.models.family import Condition, Grid, LatentCallback, Sampled
from engine.models.varsr.build import VARSRModels
from engine.samplers.hooks import TokenOverride, teacher_force
from engine.samplers.varsr import sample_varsr


class VARSRFamily:
    """A loaded VARSR (transformer + its VQVAE) as a :class:`FamilyModel`."""

    family = "varsr"

    def __init__(self, models: VARSRModels):
        self.models = models
        self.name = models.name
        self.device = models.device
        self.dtype = models.dtype

    @property
    def resolution(self) -> int:
        return self.models.resolution

    @property
    def schedule(self) -> tuple[Grid, ...]:
        return tuple((pn, pn) for pn in self.models.patch_nums)

    @torch.inference_mode()
    def encode_tokens(self, rgb: np.ndarray) -> list[torch.Tensor]:
        return self.models.vqvae.encode_ids(image_to_tensor(rgb, self.device))

    def teacher_force(
        self, source: Sequence[torch.Tensor], keep: Sequence[torch.Tensor]
    ) -> TokenOverride:
        return teacher_force(source, keep, self.models.vqvae.quantize.embedding)

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
        if condition.reference is None:
            raise ValueError("VARSR needs the low-resolution image as its condition")
        lr = image_to_tensor(condition.reference, self.device)
        hook = None if on_scale is None else (lambda si, f_hat, _ids: on_scale(si, f_hat))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            out = sample_varsr(
                self.models.transformer,
                self.models.vqvae.quantize,
                lr,
                cfg=sampling.cfg,
                top_k=sampling.top_k,
                top_p=sampling.top_p,
                override=override,
                on_scale=hook,
                check_cancelled=check_cancelled,
            )
        return Sampled(latent=out.f_hat, tokens=out.ids)

    @torch.inference_mode()
    def decode(self, latent: torch.Tensor) -> np.ndarray:
        return tensor_to_image(self.models.vqvae.decode(latent[:1].float()))[0]

    def preview(self, latent: torch.Tensor, scale_index: int) -> np.ndarray:
        return decode_preview(self.models.vqvae, latent, self.models.patch_nums[scale_index])

    def memory_bytes(self) -> int:
        tensors = [*self.models.transformer.state_dict().values()]
        tensors += [*self.models.vqvae.state_dict().values()]
        return sum(t.numel() * t.element_size() for t in tensors)
