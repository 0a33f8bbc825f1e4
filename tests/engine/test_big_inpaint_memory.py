"""A small retouch on a big photo makes no avoidable photo-sized copies.

Measured with tracemalloc (numpy's and OpenCV's arrays are traced) over loading a 3000×3000
1-bit PNG and its mask file and in-painting a 100×80 box with a tiny model: the peak was 8.7×
the RGB image's bytes before (Pillow's RGBX conversion, int32 mask temporaries, photo-sized
distance maps and float alphas), 3.1× after: the pixels, the result, the mask and its grown
copy. ``MAX_PEAK_RATIO`` = 4 leaves room for small buffers.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
from PIL import Image, ImageDraw

from engine.api import InpaintRequest, ModelChoice
from engine.cli.common import run_blocking
from engine.imaging.imageio import load_image, load_mask

MAX_PEAK_RATIO = 4.0
SIDE = 3000


def test_small_edit_on_a_big_1_bit_photo_keeps_few_copies(tmp_path, tiny_checkpoints):
    photo = Image.new("1", (SIDE, SIDE), 1)
    ImageDraw.Draw(photo).line([(0, 0), (SIDE, SIDE)], fill=0, width=5)
    photo.save(tmp_path / "photo.png")
    mask = Image.new("1", (SIDE, SIDE), 0)
    ImageDraw.Draw(mask).rectangle([1000, 1000, 1100, 1080], fill=1)
    mask.save(tmp_path / "mask.png")
    vae, var = tiny_checkpoints
    import engine.service  # noqa: F401  (module imports are not the pipeline's copies)

    tracemalloc.start()
    try:
        loaded = load_image(tmp_path / "photo.png")
        masked = load_mask(tmp_path / "mask.png", (SIDE, SIDE))
        request = InpaintRequest(
            model=ModelChoice.from_files(vae=vae, transformer=var), image=loaded.pixels, mask=masked
        )
        (variation,) = run_blocking(request).variations
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert variation.image.shape == (SIDE, SIDE, 3)
    assert np.array_equal(variation.image[:900], loaded.pixels[:900])
    assert peak / loaded.pixels.nbytes <= MAX_PEAK_RATIO, peak / loaded.pixels.nbytes
