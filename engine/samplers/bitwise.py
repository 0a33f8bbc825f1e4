"""Next-scale bitwise sampling for Infinity / VAREdit, draw for draw like the reference.

Per scale: the transformer's logits for every (position, bit) pair, temperature (``* 1/tau``),
classifier-free guidance on the logits (``cfg*l_c + (1-cfg)*l_u``), top-k/top-p over the two
outcomes of each bit, then ONE ``torch.multinomial`` over all rows from one generator seeded
per call. The bits become BSQ codes; their running sum (trilinear up to the finest grid) is the
latent the VAE decodes, and, resized to the next grid, the next scale's input.

Hooks, as in the VAR sampler: ``override(si, bits, codes)`` may replace what is fed forward
(teacher forcing; every bit is still drawn first, so the random stream does not depend on the
mask) and ``on_scale(si, latent, bits)`` sees each scale's latent (previews, progress).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.models.infinity.bsq_vae import bits_to_codes, up_to
from engine.models.infinity.config import Grid
from engine.models.infinity.transformer import InfinityTransformer, TextCondition
from engine.models.kv_budget import KVBudget
from engine.samplers.filtering import draw, top_k_top_p_

# (scale index, bits (1, h*w, d), codes (1, h*w, d)) -> what to feed forward; VAE-grid order.
BitOverride = Callable[[int, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
LatentCallback = Callable[[int, torch.Tensor, torch.Tensor], None]


@dataclass
class BitwiseOutput:
    latent: torch.Tensor  # (1, d, H, W) summed codes on the finest VAE grid
    bits: list[torch.Tensor]  # per scale (1, h*w, d) int64, the bits fed forward


@dataclass(frozen=True)
class BitwiseSettings:
    cfg: tuple[float, ...]  # one per scale (the reference's cfg_list)
    tau: tuple[float, ...]  # one per scale (tau_list)
    top_k: int = 900
    top_p: float = 0.97

    @classmethod
    def constant(cls, n: int, cfg: float, tau: float, top_k: int = 900, top_p: float = 0.97):
        return cls((float(cfg),) * n, (float(tau),) * n, top_k, top_p)


def vae_grids(schedule: Sequence[Grid], patchify: bool) -> tuple[Grid, ...]:
    """The VAE's grids: 2x the transformer's when 2x2 latents form one token (8B)."""
    return tuple((2 * h, 2 * w) if patchify else (h, w) for h, w in schedule)


def guided_logits(model, hidden, text: TextCondition, cfg: float, tau: float) -> torch.Tensor:
    """(1, l, 2d) logits after temperature and guidance, evaluated as the reference does."""
    if cfg != 1 and text.rows == 2:
        logits = model.logits(hidden, text.cond_BD).mul(1 / tau)
        return cfg * logits[:1] + (1 - cfg) * logits[1:]
    return model.logits(hidden[:1], text.cond_BD[:1]).mul(1 / tau)


def _to_vae_order(bits: torch.Tensor, grid: Grid, patchify: bool) -> torch.Tensor:
    """(1, h*w*d_tok) drawn bits -> (1, H*W, d) on the VAE grid (pixel_shuffle for 8B)."""
    h, w = grid
    bits = bits.reshape(1, h, w, -1)
    if patchify:
        bits = F.pixel_shuffle(bits.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    return bits.reshape(1, -1, bits.shape[-1])


def _next_input(latent: torch.Tensor, grid: Grid, patchify: bool) -> torch.Tensor:
    x = up_to(latent, grid)
    if patchify:
        x = F.pixel_unshuffle(x, 2)
    return x.flatten(2).transpose(1, 2)


@torch.inference_mode()
def sample_bits(
    model: InfinityTransformer,
    text: TextCondition,
    source: torch.Tensor | None,
    schedule: Sequence[Grid],
    settings: BitwiseSettings,
    *,
    patchify: bool = False,
    generator: torch.Generator | None = None,
    override: BitOverride | None = None,
    on_scale: LatentCallback | None = None,
    check_cancelled: Callable[[], None] | None = None,
    kv_budget: float | None = None,
) -> BitwiseOutput:
    """Run the loop; ``source`` (1, h_K*w_K, d_tok) are VAREdit's reference tokens, ``None``
    for text-to-image (a transformer set up ``without_reference``). ``kv_budget`` (opt-in)
    keeps that share of each layer's KV cache (``engine.models.kv_budget``)."""
    schedule = tuple(tuple(g) for g in schedule)
    grids = vae_grids(schedule, patchify)
    last = len(schedule) - 1
    bits_fed: list[torch.Tensor] = []
    latent = None
    source_len = 0 if source is None else source.shape[1]
    capacity = model.cache_tokens(source_len, schedule)
    budget = None
    if kv_budget is not None:
        budget = KVBudget(kv_budget, [h * w for h, w in schedule], prefix=source_len)
    with model.kv_cache(capacity, budget):
        if source is not None:
            if budget is not None:
                budget.set_scale(-1, schedule[-1])  # the source pass, on the last grid
            model.run_source(source, text, schedule)
        x = model.start_tokens(text).expand(text.rows, 1, -1)
        for si, grid in enumerate(schedule):
            if check_cancelled is not None:
                check_cancelled()
            if budget is not None:
                budget.set_scale(si, grid)
            hidden = model.run_scale(x, si, text, schedule)
            logits = guided_logits(model, hidden, text, settings.cfg[si], settings.tau[si])
            logits = logits.reshape(1, -1, 2)
            top_k_top_p_(logits, settings.top_k, settings.top_p)
            bits = _to_vae_order(draw(logits, generator), grid, patchify)
            codes = bits_to_codes(bits)
            if override is not None:
                bits, codes = override(si, bits, codes)
            bits_fed.append(bits)
            codes = codes.transpose(1, 2).reshape(1, -1, *grids[si])
            step = codes if si == last else up_to(codes, grids[-1])
            latent = step if latent is None else latent + step
            if on_scale is not None:
                on_scale(si, latent, bits)
            if si != last:
                nxt = model.word_embed(_next_input(latent, grids[si + 1], patchify))
                x = nxt.repeat(text.rows, 1, 1)
    return BitwiseOutput(latent=latent, bits=bits_fed)
