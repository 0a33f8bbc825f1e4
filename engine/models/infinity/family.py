"""VAREdit (Infinity + scale-aligned reference) behind the model-family protocol.

Tokens are bits ``(1, h*w, d)`` on the VAE's grid of each scale (for the 8B model the
transformer sees 2x2 of those per token; pipelines never need to know). The condition needs both
``text`` (the instruction) and ``reference`` (the source at model resolution); the instruction's
T5 features are kept for the last text, so variations of one edit encode it once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from engine.api import Sampling
from engine.models.family import Condition, Grid, LatentCallback, Sampled
from engine.models.infinity.bsq_vae import BSQVae, bits_to_codes
from engine.models.infinity.config import square_schedule
from engine.models.infinity.pixels import decoded_to_uint8, image_to_input, source_tokens
from engine.models.infinity.text import T5TextEncoder
from engine.models.infinity.transformer import InfinityTransformer
from engine.runtime.cancel import UserFacingError
from engine.samplers.bitwise import BitwiseSettings, sample_bits, vae_grids
from engine.samplers.hooks import TokenOverride

PREVIEW_GRID_RATIO = 0.5  # previews decode the latent pooled to half the scale's grid


def bit_teacher_force(
    source: Sequence[torch.Tensor], keep: Sequence[torch.Tensor]
) -> TokenOverride:
    """Feed ``source[si]`` bits (1, h*w, d) where ``keep[si]`` (1, h*w) is True; every bit is
    still drawn first, so the random stream is the same with or without a mask."""

    def apply(si: int, bits: torch.Tensor, codes: torch.Tensor):
        mask = keep[si].to(bits.device).reshape(1, -1, 1)
        src = source[si].to(bits.device).reshape(bits.shape)
        fed = torch.where(mask, src, bits)
        return fed, torch.where(mask, bits_to_codes(src).to(codes.dtype), codes)

    return apply


class InfinityEditModel:
    """A loaded VAREdit: transformer + BSQ VAE + T5 instruction encoder at one resolution."""

    family = "varedit"

    def __init__(
        self,
        transformer: InfinityTransformer,
        vae: BSQVae,
        text_encoder: T5TextEncoder,
        resolution: int,
        name: str,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
    ):
        self.transformer, self.vae, self.text_encoder = transformer, vae, text_encoder
        self.name, self.device, self.dtype = name, device, dtype
        self.patchify = transformer.cfg.token_dim == 4 * vae.cfg.bits
        if not self.patchify and transformer.cfg.token_dim != vae.cfg.bits:
            raise UserFacingError(
                f"{name}: the transformer takes {transformer.cfg.token_dim}-bit tokens but the "
                f"VAE makes {vae.cfg.bits} bits: they are not a pair."
            )
        if transformer.cfg.text_dim != text_encoder.width:
            raise UserFacingError(
                f"{name}: the text encoder is {text_encoder.width} wide, the transformer "
                f"expects {transformer.cfg.text_dim} (google/flan-t5-xl)."
            )
        self.token_schedule = square_schedule(resolution)
        self._resolution = int(resolution)
        self._text: tuple[str, torch.Tensor] | None = None

    @property
    def resolution(self) -> int:
        return self._resolution

    @property
    def schedule(self) -> tuple[Grid, ...]:
        return vae_grids(self.token_schedule, self.patchify)

    def _check_size(self, rgb: np.ndarray) -> None:
        if rgb.shape[:2] != (self.resolution, self.resolution):
            raise UserFacingError(
                f"The model works on {self.resolution}×{self.resolution} images, "
                f"not {rgb.shape[1]}×{rgb.shape[0]}."
            )

    @torch.inference_mode()
    def _raw(self, rgb: np.ndarray) -> torch.Tensor:
        self._check_size(rgb)
        return self.vae.encode_raw(image_to_input(rgb, self.device))

    def encode_tokens(self, rgb: np.ndarray) -> list[torch.Tensor]:
        return BSQVae.quantize_scales(self._raw(rgb), self.schedule)

    def teacher_force(self, source, keep) -> TokenOverride:
        return bit_teacher_force(source, keep)

    def text_features(self, text: str) -> torch.Tensor:
        if self._text is None or self._text[0] != text:
            self._text = (text, self.text_encoder.encode(text).to(self.device))
        return self._text[1]

    @torch.inference_mode()
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
        if condition.reference is None or not condition.text:
            raise UserFacingError("An instruction edit needs a source image and an instruction.")
        n = len(self.token_schedule)
        settings = BitwiseSettings.constant(
            n, sampling.cfg, sampling.tau, sampling.top_k, sampling.top_p
        )
        text = self.transformer.encode_text(
            self.text_features(condition.text), guided=any(c != 1 for c in settings.cfg)
        )
        source = source_tokens(
            self._raw(condition.reference), self.token_schedule[-1], self.patchify
        )
        out = sample_bits(
            self.transformer,
            text,
            source,
            self.token_schedule,
            settings,
            patchify=self.patchify,
            generator=torch.Generator(device=self.device).manual_seed(int(seed)),
            override=override,
            on_scale=None if on_scale is None else lambda si, latent, _bits: on_scale(si, latent),
            check_cancelled=check_cancelled,
        )
        return Sampled(latent=out.latent, tokens=out.bits)

    @torch.inference_mode()
    def decode(self, latent: torch.Tensor) -> np.ndarray:
        return decoded_to_uint8(self.vae.decode(latent.float()))

    @torch.inference_mode()
    def preview(self, latent: torch.Tensor, scale_index: int) -> np.ndarray:
        """The latent pooled to half the scale's grid, decoded: a few % of a full decode."""
        h, w = self.schedule[scale_index]
        grid = (
            max(1, math.ceil(h * PREVIEW_GRID_RATIO)),
            max(1, math.ceil(w * PREVIEW_GRID_RATIO)),
        )
        small = F.interpolate(latent[:1].float(), size=grid, mode="area")
        return decoded_to_uint8(self.vae.decode(small))

    def memory_bytes(self) -> int:
        tensors = [*self.transformer.state_dict().values(), *self.vae.state_dict().values()]
        text_model = self.text_encoder.model
        if text_model is not None:
            tensors += list(text_model.state_dict().values())
        return sum(t.numel() * t.element_size() for t in tensors)
