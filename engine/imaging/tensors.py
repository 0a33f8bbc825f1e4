"""The only place where numpy images become model tensors and back."""

from __future__ import annotations

import numpy as np
import torch

from engine.runtime.cancel import NonFiniteOutput


def image_to_tensor(rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in [-1, 1], contiguous NCHW.

    Contiguity matters: a channels-last view (what a bare permute gives) makes oneDNN pick other
    conv kernels, and the encoder's argmin over codes then differs from the reference.
    """
    pixels = np.ascontiguousarray(rgb[..., :3])
    if not pixels.flags.writeable:  # torch warns about read-only arrays (a decoded file's)
        pixels = pixels.copy()
    x = torch.from_numpy(pixels).permute(2, 0, 1).float().div(255)
    x = (x + x - 1).unsqueeze(0).contiguous()
    return x.to(device)


def tensor_to_image(img: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8 with round(x*255) of x in [0, 1].

    NaN would silently become black pixels; it is refused instead.
    """
    if not torch.isfinite(img).all():
        raise NonFiniteOutput(
            "The model decoded invalid numbers (NaN or infinity): its weights are damaged, "
            "or this precision overflows; try fp32 or bf16."
        )
    x = img.detach().float().add(1).mul(0.5).mul(255).round().clamp(0, 255)
    return x.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
