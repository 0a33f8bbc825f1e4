"""VAREdit (Infinity + scale-aligned reference) behind the model-family protocol.

Tokens are bits ``(1, h*w, d)`` on the VAE's grid of each scale (for the 8B model the
transformer sees 2x2 of those per token; pipelines never need to know). The condition needs both
``text`` (the instruction) and ``reference`` (the source at model resolution); the instruction's
T5 features are kept for the last few texts, so variations of one edit encode it once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from engine.api import Sampling
from engine.models.family import Condition, Grid, LatentCallback, Sampled
from engine.models.infinity.bsq_vae import BSQVae, bits_to_codes, up_to
from engine.models.infinity.config import square_schedule
from engine.models.infinity.pixels import decoded_to_uint8, image_to_input, source_tokens
from engine.models.infinity.text import T5TextEncoder
from engine.models.infinity.transformer import InfinityTransformer
from engine.runtime.cancel import UserFacingError
from engine.samplers.bitwise import BitwiseSettings, sample_bits, vae_grids
from engine.samplers.hooks import TokenOverride

PREVIEW_CELL_PX = 4  # preview pixels per latent cell
TEXT_CACHE = 8  # instructions whose T5 features are kept


def fit_preview_map(latent: torch.Tensor, rgb: np.ndarray) -> torch.Tensor:
    """A least-squares affine map (d + 1, 3) from latent channels to RGB in [0, 1], fitted on
    the source image's own latent: a per-edit "decoder" for previews at ~0 cost."""
    d, h, w = latent.shape[1:]
    target = torch.from_numpy(np.array(rgb[..., :3], dtype=np.float32) / 255).permute(2, 0, 1)
    target = F.interpolate(target[None], size=(h, w), mode="area")[0].reshape(3, -1).T
    features = torch.cat((latent[0].reshape(d, -1).T.float().cpu(), torch.ones(h * w, 1)), 1)
    return torch.linalg.lstsq(features, target).solution


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


def _summed_codes(bits: Sequence[torch.Tensor], grids: Sequence[Grid]) -> torch.Tensor:
    """The latent of per-scale bits: their codes summed on the finest grid (as the sampler)."""
    latent = 0
    for tokens, grid in zip(bits, grids, strict=True):
        codes = bits_to_codes(tokens).transpose(1, 2).reshape(1, -1, *grid)
        latent = latent + (codes if tuple(grid) == tuple(grids[-1]) else up_to(codes, grids[-1]))
    return latent


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
        self._texts: OrderedDict[str, torch.Tensor] = OrderedDict()  # newest last
        self._source: tuple[bytes, torch.Tensor] | None = None  # (image digest, raw features)
        self._preview_map: torch.Tensor | None = None

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
        """Raw encoder features, kept for the last image (teacher forcing, the reference and
        every variation of one edit share one encode)."""
        self._check_size(rgb)
        digest = hashlib.blake2b(np.ascontiguousarray(rgb[..., :3]).tobytes()).digest()
        if self._source is None or self._source[0] != digest:
            raw = self.vae.encode_raw(image_to_input(rgb, self.device))
            self._source = (digest, raw)
            latent = _summed_codes(BSQVae.quantize_scales(raw, self.schedule), self.schedule)
            self._preview_map = fit_preview_map(latent, rgb)
        return self._source[1]

    def encode_tokens(self, rgb: np.ndarray) -> list[torch.Tensor]:
        return BSQVae.quantize_scales(self._raw(rgb), self.schedule)

    def latent_of(self, tokens: Sequence[torch.Tensor]) -> torch.Tensor:
        """What :meth:`decode` takes for per-scale bits (e.g. the source's own tokens)."""
        return _summed_codes(tokens, self.schedule)

    def teacher_force(self, source, keep) -> TokenOverride:
        return bit_teacher_force(source, keep)

    def text_features(self, text: str) -> torch.Tensor:
        """T5 features on the model's device, kept for the last few instructions: variations
        and undo/redo of an edit never re-encode (which matters when T5 is freed after use)."""
        if text in self._texts:
            self._texts.move_to_end(text)
        else:
            self._texts[text] = self.text_encoder.encode(text).to(self.device)
            while len(self._texts) > TEXT_CACHE:
                self._texts.popitem(last=False)
        return self._texts[text]

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
        source = source_tokens(
            self._raw(condition.reference), self.token_schedule[-1], self.patchify
        )
        return self._sample(
            condition.text, source, sampling, seed, override, on_scale, check_cancelled
        )

    def _sample(self, text, source, sampling, seed, override, on_scale, check_cancelled) -> Sampled:
        """The bitwise loop for ``text``, with VAREdit's ``source`` tokens or none (Infinity)."""
        n = len(self.token_schedule)
        settings = BitwiseSettings.constant(
            n, sampling.cfg, sampling.tau, sampling.top_k, sampling.top_p
        )
        condition = self.transformer.encode_text(
            self.text_features(text), guided=any(c != 1 for c in settings.cfg)
        )
        out = sample_bits(
            self.transformer,
            condition,
            source,
            self.token_schedule,
            settings,
            patchify=self.patchify,
            generator=torch.Generator(device=self.device).manual_seed(int(seed)),
            override=override,
            on_scale=None if on_scale is None else lambda si, latent, _bits: on_scale(si, latent),
            check_cancelled=check_cancelled,
            kv_budget=sampling.kv_budget,
        )
        return Sampled(latent=out.latent, tokens=out.bits)

    @torch.inference_mode()
    def decode(self, latent: torch.Tensor) -> np.ndarray:
        return decoded_to_uint8(self.vae.decode(latent.float()))

    @torch.inference_mode()
    def preview(self, latent: torch.Tensor, scale_index: int) -> np.ndarray:
        """The latent at the scale's grid through the source-fitted affine map (no decoder),
        or, before any source was seen, a decode of the latent pooled to that grid."""
        grid = self.schedule[scale_index]
        small = F.interpolate(latent[:1].float(), size=grid, mode="area")
        if self._preview_map is None:
            return decoded_to_uint8(self.vae.decode(small))
        d = small.shape[1]
        cells = torch.cat((small[0].reshape(d, -1).T.cpu(), torch.ones(grid[0] * grid[1], 1)), 1)
        rgb = (cells @ self._preview_map).clamp(0, 1).mul(255).round().to(torch.uint8)
        image = rgb.reshape(*grid, 3).numpy()
        return np.repeat(np.repeat(image, PREVIEW_CELL_PX, 0), PREVIEW_CELL_PX, 1)

    def memory_bytes(self) -> int:
        tensors = [*self.transformer.state_dict().values(), *self.vae.state_dict().values()]
        text_model = self.text_encoder.model
        if text_model is not None:
            tensors += list(text_model.state_dict().values())
        return sum(t.numel() * t.element_size() for t in tensors)
