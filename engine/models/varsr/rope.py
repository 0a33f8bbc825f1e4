"""VARSR's scale-aligned 2-D rotary position embedding.

Every grid (the 32x32 LR prefix, the class token as a 1x1 grid, then each scale) is placed on
the same 32x32 image grid: cell (i, j) of a pn x pn map sits at the top-left corner
(32 i / pn, 32 j / pn) of its area, so the LR prefix and every scale share coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def rope_grids(patch_nums: Sequence[int]) -> tuple[int, ...]:
    """Grids in sequence order: the LR prefix (finest grid), the class token, scales 1.."""
    return (patch_nums[-1], patch_nums[0], *patch_nums[1:])


def precompute_freqs(head_dim: int, grids: Sequence[int], grid: int = 32) -> torch.Tensor:
    """(positions, head_dim // 2) complex64: first half rotates with rows, second with columns."""
    exponents = torch.arange(0, head_dim, 4, device="cpu")[: head_dim // 4].float() / head_dim
    freqs = 1.0 / (10000.0**exponents)
    rows, cols = [], []
    for pn in grids:
        side = torch.arange(pn, device="cpu")  # a plain attribute: never on the meta device
        i, j = torch.meshgrid(side, side, indexing="ij")
        rows.append(i.flatten() / pn * grid)  # divide first, as the reference does
        cols.append(j.flatten() / pn * grid)
    t_rows, t_cols = torch.cat(rows), torch.cat(cols)
    angle_rows = torch.outer(t_rows, freqs).float()
    angle_cols = torch.outer(t_cols, freqs).float()
    return torch.cat(
        (
            torch.polar(torch.ones_like(angle_rows), angle_rows),
            torch.polar(torch.ones_like(angle_cols), angle_cols),
        ),
        dim=1,
    )


def rotate(x_BHLc: torch.Tensor, freqs_Lc: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs (2k, 2k+1) as complex numbers, in float32, cast back.

    Computed in (B, L, H, c) memory and handed back as a (B, H, L, c) view, the reference's
    layout: attention kernels accumulate in a layout-dependent order, and greedy VARSR tokens
    with top-2 margins of ~3e-5 flip on that difference.
    """
    x = x_BHLc.permute(0, 2, 1, 3)
    B, L, H, c = x.shape
    pairs = torch.view_as_complex(x.float().reshape(B, L, H, c // 2, 2))
    rotated = torch.view_as_real(pairs * freqs_Lc.view(1, L, 1, c // 2)).flatten(3)
    return rotated.type_as(x_BHLc).permute(0, 2, 1, 3)
