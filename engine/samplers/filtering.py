"""Logit filtering shared by every family's sampler: guidance, top-k / top-p, one draw.

Each function is evaluated exactly as the reference samplers write it, so a family that reuses
these keeps token-for-token parity.
"""

from __future__ import annotations

import torch

from engine.runtime.cancel import NonFiniteOutput


def guide(cond_BlV: torch.Tensor, uncond_BlV: torch.Tensor, t: float) -> torch.Tensor:
    """Classifier-free guidance, evaluated exactly as the reference writes it."""
    return (1 + t) * cond_BlV - t * uncond_BlV


def top_k_top_p_(logits_BlV: torch.Tensor, top_k: int = 0, top_p: float = 0.0) -> torch.Tensor:
    """Mask logits in place: keep the k largest (ties kept), then the smallest nucleus ≥ top_p."""
    if 0 < top_k < logits_BlV.shape[-1]:  # k >= V keeps everything
        kth = logits_BlV.topk(top_k, largest=True, sorted=False, dim=-1)[0].amin(-1, keepdim=True)
        logits_BlV.masked_fill_(logits_BlV < kth, -torch.inf)
    if top_p > 0:
        sorted_logits, sorted_idx = logits_BlV.sort(dim=-1, descending=False)
        remove = sorted_logits.softmax(dim=-1).cumsum_(dim=-1) <= (1 - top_p)
        remove[..., -1:] = False  # never remove the most likely token
        logits_BlV.masked_fill_(remove.scatter(-1, sorted_idx, remove), -torch.inf)
    return logits_BlV


def check_finite(logits_BlV: torch.Tensor) -> None:
    """Refuse logits with a NaN, or a row with no finite value left: such a model would
    otherwise end in torch's "probability tensor contains inf or nan" or a black image."""
    if torch.isnan(logits_BlV).any() or not torch.isfinite(logits_BlV.amax(-1)).all():
        raise NonFiniteOutput(
            "The model produced invalid numbers (NaN or infinity): its weights are damaged, "
            "or this precision overflows; try fp32 or bf16."
        )


def draw(logits_BlV: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One categorical draw per row, (B, l)."""
    check_finite(logits_BlV)
    B, l, V = logits_BlV.shape
    probs = logits_BlV.softmax(dim=-1).view(-1, V)
    return torch.multinomial(probs, num_samples=1, replacement=True, generator=generator).view(B, l)
