"""2-D rotary position table laid out exactly as VAREdit's (quirk included).

The reference builds ONE table for h/w = 1 from the 1M (1024 px) schedule: the 64x64 source
grid at positions (y + 64, x + 64), then every 1M target scale at (round(i*64/h),
round(j*64/w)). Every resolution slices that table flat: the source takes entries
``[0, h_K*w_K)`` and target scale s the entries that follow ``h_K*w_K + sum(h_t*w_t, t < s)``.
At 256/512 px those slices therefore fall inside the 64-wide source block (a raster continuing
row by row), not on the intended 2-D grid. The released 512 px checkpoints were trained with
that layout, so it is reproduced, not fixed. Original Infinity (no source block) builds the
same positions without the source part, so its targets index the table after the 4096 source
entries.
"""

from __future__ import annotations

import torch

from engine.models.infinity.config import Grid, full_schedule

_TABLE_EDGE = 256  # the reference's grid of (2 * 2048 // 16) positions per axis
_BASE = 10000.0


def _axis_freqs(head_dim: int) -> torch.Tensor:
    """(256, head_dim // 4) angles for one axis: position * theta_i."""
    half = head_dim // 2
    inv_freq = 1.0 / (_BASE ** (torch.arange(0, half, 2, dtype=torch.int64).float() / half))
    positions = torch.arange(_TABLE_EDGE, dtype=torch.int64).float()
    return torch.outer(positions, inv_freq)


def _lookup(angles: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """(N, head_dim // 2) angles: height frequencies first, then width frequencies."""
    return torch.cat((angles[rows], angles[cols]), dim=-1)


def rope_table(head_dim: int) -> torch.Tensor:
    """(2, N, head_dim // 2) cos/sin for the source block and the 1M target scales."""
    angles = _axis_freqs(head_dim)
    schedule = full_schedule()
    last_h, last_w = schedule[-1]
    ys, xs = torch.meshgrid(torch.arange(last_h), torch.arange(last_w), indexing="ij")
    parts = [_lookup(angles, (ys + last_h).flatten(), (xs + last_w).flatten())]
    for h, w in schedule:
        rows = (torch.arange(h) * (last_h / h)).round().int()
        cols = (torch.arange(w) * (last_w / w)).round().int()
        grid_r, grid_c = torch.meshgrid(rows, cols, indexing="ij")
        parts.append(_lookup(angles, grid_r.flatten().long(), grid_c.flatten().long()))
    table = torch.cat(parts, dim=0)
    return torch.stack((torch.cos(table), torch.sin(table)), dim=0)


def source_span(schedule: tuple[Grid, ...]) -> tuple[int, int]:
    h, w = schedule[-1]
    return 0, h * w


def target_span(schedule: tuple[Grid, ...], si: int, reference: bool = True) -> tuple[int, int]:
    """The flat table slice of target scale ``si``: after the source block of this schedule
    (VAREdit), or, with no ``reference`` (original Infinity, text-to-image), inside the table's
    1M target part, where every schedule is a prefix and so lands on its intended 2-D grid."""
    last = schedule[-1] if reference else full_schedule()[-1]
    start = last[0] * last[1] + sum(h * w for h, w in schedule[:si])
    h, w = schedule[si]
    return start, start + h * w


def apply_rope(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent channel pairs of (B, H, L, c) by the (2, L, c // 2) cos/sin ``table``."""
    cos, sin = table[0], table[1]
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated = torch.stack((cos * even - sin * odd, sin * even + cos * odd), dim=-1)
    return rotated.reshape(x.shape)
