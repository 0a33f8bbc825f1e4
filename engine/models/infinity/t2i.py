"""Infinity-2B (text-to-image) behind the model-family protocol: text-guided in/out-painting.

The same transformer, VAE and T5 as VAREdit, run as FoundationVision/Infinity runs them: the
prompt conditions the loop (CFG against the learned null text ``cfg_uncond``), there is no
source pass, the first self-attention is a plain layer and the target scales take Infinity's
RoPE positions (``InfinityTransformer.without_reference``). In-painting teacher-forces the
source's bits outside the mask exactly as for VAR; tokens, encode, decode and previews are
VAREdit's (``InfinityEditModel``), only the condition and the sequence differ.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.api import Sampling
from engine.models.family import Condition, LatentCallback, Sampled
from engine.models.infinity.bsq_vae import BSQVae
from engine.models.infinity.family import InfinityEditModel
from engine.models.infinity.text import T5TextEncoder
from engine.models.infinity.transformer import InfinityTransformer
from engine.runtime.cancel import UserFacingError
from engine.samplers.hooks import TokenOverride

NEEDS_PROMPT = "Infinity paints from a prompt: describe what the picture should show."


class InfinityModel(InfinityEditModel):
    """A loaded Infinity text-to-image model (transformer + BSQ VAE + T5) at one resolution."""

    family = "infinity"

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
        super().__init__(
            transformer.without_reference(), vae, text_encoder, resolution, name, device, dtype
        )

    @classmethod
    def from_edit_model(cls, model: InfinityEditModel) -> InfinityModel:
        """The same loaded parts run as Infinity (the loader shares VAREdit's file handling)."""
        parts = (model.transformer, model.vae, model.text_encoder, model.resolution)
        return cls(*parts, model.name, model.device, model.dtype)

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
        if not condition.text or not condition.text.strip():
            raise UserFacingError(NEEDS_PROMPT)
        return self._sample(
            condition.text, None, sampling, seed, override, on_scale, check_cancelled
        )
