"""Colour and low-frequency matching of an upscaled result to its (resized) input.

AdaIN is VARSR's post-processing (``adain_color_fix``): per-channel mean and unbiased standard
deviation transfer. The wavelet fix keeps the result's high frequencies and takes the low ones
(a 5-level a-trous decomposition) from the input: it also restores local colour, not just the
global statistics, which matters for zero-shot SR whose coarse scales may drift.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _to_unit(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in [0, 1] (torchvision's ``ToTensor``)."""
    return torch.from_numpy(np.ascontiguousarray(rgb[..., :3])).permute(2, 0, 1)[None].float() / 255


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """[0, 1] -> uint8 by truncation (``ToPILImage``), as the reference saves its result."""
    return x.clamp(0, 1).mul(255).byte()[0].permute(1, 2, 0).numpy()


def _mean_std(x: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    b, c = x.shape[:2]
    flat = x.reshape(b, c, -1)
    std = (flat.var(dim=2) + eps).sqrt().reshape(b, c, 1, 1)
    return flat.mean(dim=2).reshape(b, c, 1, 1), std


def adain_fix(result: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``result`` with the per-channel mean/std of ``source`` (same size), uint8."""
    content, style = _to_unit(result), _to_unit(source)
    style_mean, style_std = _mean_std(style)
    content_mean, content_std = _mean_std(content)
    normalized = (content - content_mean.expand(content.shape)) / content_std.expand(content.shape)
    return _to_uint8(
        normalized * style_std.expand(content.shape) + style_mean.expand(content.shape)
    )


def _blur(x: torch.Tensor, radius: int) -> torch.Tensor:
    """One a-trous level: 3x3 binomial kernel dilated by ``radius``, replicate padding."""
    kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    kernel = kernel.expand(x.shape[1], 1, 3, 3).contiguous()
    padded = F.pad(x, (radius,) * 4, mode="replicate")
    return F.conv2d(padded, kernel, groups=x.shape[1], dilation=radius)


def _low_pass(x: torch.Tensor, levels: int = 5) -> torch.Tensor:
    for level in range(levels):
        x = _blur(x, 2**level)
    return x


def wavelet_fix(result: np.ndarray, source: np.ndarray, levels: int = 5) -> np.ndarray:
    """``result``'s high frequencies on ``source``'s low frequencies (same size), uint8."""
    content, style = _to_unit(result), _to_unit(source)
    fixed = content - _low_pass(content, levels) + _low_pass(style, levels)
    return fixed.clamp(0, 1).mul(255).round().byte()[0].permute(1, 2, 0).numpy()


def colour_fix(result: np.ndarray, source: np.ndarray, method: str = "adain") -> np.ndarray:
    """Dispatch on ``method``: 'adain', 'wavelet' or 'none'."""
    if method == "adain":
        return adain_fix(result, source)
    if method == "wavelet":
        return wavelet_fix(result, source)
    if method == "none":
        return result
    raise ValueError(f"unknown colour fix {method!r}")
