"""VAREdit's pixel conventions: model input in [-1, 1], reference tokens, truncated uint8 out."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from engine.models.infinity.bsq_vae import area_to
from engine.models.infinity.config import Grid


def image_to_input(rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32: ``to_tensor`` (/255) then ``x + x - 1``."""
    x = torch.from_numpy(np.array(rgb[..., :3], dtype=np.uint8)).to(device)  # owned, writable
    x = x.permute(2, 0, 1).float().div(255)
    return x.add(x).add_(-1)[None]


def source_tokens(raw: torch.Tensor, final: Grid, patchify: bool) -> torch.Tensor:
    """Raw encoder features -> (1, h_K*w_K, d_tok) reference tokens (``get_image_prefix``)."""
    x = area_to(raw, (2 * final[0], 2 * final[1]) if patchify else tuple(final))
    if patchify:
        x = F.pixel_unshuffle(x, 2)
    return x.flatten(2).transpose(1, 2)


def decoded_to_uint8(decoded: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [-1, 1] -> (H, W, 3) uint8 RGB, truncated like the reference."""
    image = ((decoded.float() + 1) / 2).permute(0, 2, 3, 1).mul_(255).to(torch.uint8)
    return image[0].cpu().numpy()
