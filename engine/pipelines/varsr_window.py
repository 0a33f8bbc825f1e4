"""VARSR exactly as its official scripts run it: one 512x512 window, and latent tiles.

``upscale_window`` is ``test_varsr.py`` (the LR photo resized to 512x512 with PIL bicubic, one
sampling call, AdaIN against that resized photo); ``upscale_tiles_reference`` is ``test_tile.py``
(x4 to a 16-pixel-aligned size, 32x32-latent tiles overlapping by 8, one call per tile row,
Gaussian-weighted latent blending, one decode). Finescale's own seamless tiling for any size is
``engine.pipelines.upscale``; these two are the parity anchors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from engine.imaging.tensors import image_to_tensor, tensor_to_image
from engine.models.varsr.build import VARSRModels
from engine.pipelines.colorfix import adain_fix
from engine.samplers.hooks import TokenOverride
from engine.samplers.varsr import DEFAULT_CFG, DEFAULT_TOP_K, DEFAULT_TOP_P, sample_varsr

TILE_CFG = 7.0  # test_tile.py's guidance
SCALE = 4


def bicubic(rgb: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """PIL's bicubic resize (the reference's ``Image.resize`` default); same size is a copy."""
    return np.asarray(Image.fromarray(rgb).resize(size_wh, Image.BICUBIC))


@dataclass
class WindowResult:
    raw: np.ndarray  # decoded, before the colour fix
    final: np.ndarray  # what the reference saves
    ids: list[torch.Tensor]


def upscale_window(
    models: VARSRModels,
    rgb: np.ndarray,
    seed: int,
    *,
    cfg: float = DEFAULT_CFG,
    top_k: int = DEFAULT_TOP_K,
    top_p: float = DEFAULT_TOP_P,
) -> WindowResult:
    """``test_varsr.main`` for one photo: always a 512x512 result (aspect not kept)."""
    side = models.resolution
    lr = bicubic(rgb, (side, side)) if rgb.shape[:2] != (side, side) else rgb
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = sample_varsr(
            models.transformer,
            models.vqvae.quantize,
            image_to_tensor(lr, models.device),
            cfg=cfg,
            top_k=top_k,
            top_p=top_p,
        )
    with torch.inference_mode():
        raw = tensor_to_image(models.vqvae.decode(out.f_hat))[0]
    return WindowResult(raw, adain_fix(raw, lr), out.ids)


def tile_offsets(cells: int, tile: int = 32, overlap: int = 8) -> list[int]:
    """Tile starts along one axis, as ``test_tile.py`` counts them (last one snapped)."""
    count, reach = 0, 0
    while reach < cells:
        reach = max(count * (tile - overlap), 0) + tile
        count += 1
    starts = [count_i * (tile - overlap) for count_i in range(count)]
    starts[-1] = cells - tile
    return starts


def gaussian_weights(tile: int = 32) -> torch.Tensor:
    """(tile, tile) float64 blending weights; the row centre is tile/2, the column (tile-1)/2
    (asymmetric, as in the reference, which took it from MultiDiffusion)."""
    var = 0.01

    def bell(u: float, mid: float) -> float:
        return float(np.exp(-(u - mid) * (u - mid) / (tile * tile) / (2 * var)))

    norm = float(np.sqrt(2 * np.pi * var))
    cols = [bell(x, (tile - 1) / 2) / norm for x in range(tile)]
    rows = [bell(y, tile / 2) / norm for y in range(tile)]
    return torch.tensor(np.outer(rows, cols))


def blend_tiles(
    tiles: dict[tuple[int, int], torch.Tensor], grid_hw: tuple[int, int], tile: int = 32
) -> torch.Tensor:
    """Weighted average of latent tiles keyed by (row, col) offsets, (1, Cv, h, w) float32."""
    weights = gaussian_weights(tile)
    channels = next(iter(tiles.values())).shape[0]
    preds = torch.zeros(1, channels, *grid_hw)
    total = torch.zeros(1, channels, *grid_hw)
    for (r, c), f_hat in tiles.items():
        rows, cols = slice(r, r + tile), slice(c, c + tile)
        preds[:, :, rows, cols] += f_hat.cpu().unsqueeze(0) * weights  # float64 sum, as there
        total[:, :, rows, cols] += weights
    return preds / total


def upscale_tiles_reference(
    models: VARSRModels,
    rgb: np.ndarray,
    seed: int,
    override: Callable[[int], TokenOverride | None] | None = None,
) -> np.ndarray:
    """``test_tile.main`` for one photo: x4 of any size through 512-px latent tiles.

    ``override(row)`` may return a token override for that tile row's batch.
    """
    H, W = rgb.shape[:2]
    side = models.resolution
    size = (
        max(math.ceil(W / 16) * 16 * SCALE, side),
        max(math.ceil(H / 16) * 16 * SCALE, side),
    )
    lr = image_to_tensor(bicubic(rgb, size), models.device)
    h, w = math.ceil(lr.shape[2] / 16), math.ceil(lr.shape[3] / 16)
    tile = models.patch_nums[-1]
    tiles: dict[tuple[int, int], torch.Tensor] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for row, r in enumerate(tile_offsets(h, tile)):
            cols = tile_offsets(w, tile)
            windows = torch.cat(
                [lr[:, :, r * 16 : (r + tile) * 16, c * 16 : (c + tile) * 16] for c in cols]
            )
            out = sample_varsr(
                models.transformer,
                models.vqvae.quantize,
                windows,
                cfg=TILE_CFG,
                override=None if override is None else override(row),
            )
            tiles.update({(r, c): out.f_hat[i] for i, c in enumerate(cols)})
    f_hat = blend_tiles(tiles, (h, w), tile).to(models.device)
    with torch.inference_mode():
        image = tensor_to_image(models.vqvae.decode(f_hat))[0]
    out_size = (W * SCALE, H * SCALE)
    return adain_fix(bicubic(image, out_size), bicubic(rgb, out_size))
