"""Text-guided in/out-painting with Infinity through the same pipelines as VAR (the family seam).

The tiny random Infinity (the golden fixture's weights, 256 px) runs through the real engine:
the prompt reaches the model, pixels outside the grown mask come back bit-exact, out-painting
shows no window borders by the hardening issue's seam measure.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from engine.api import InpaintRequest, ModelChoice, OutpaintRequest, Sampling
from engine.capabilities import task_defaults
from engine.cli.common import run_blocking
from engine.imaging.masks import grow_mask
from engine.models.infinity.config import SQUARE_SIDES
from engine.pipelines.validation import validate_request
from engine.runtime.cancel import UserFacingError
from tests.engine.test_outpaint_seams import MEDIAN_RATIO, SEAM_RATIO, sample_photo, seam_ratios

SAMPLING = Sampling(**task_defaults("infinity", "inpaint").sampling.as_kwargs())


@pytest.fixture(scope="module")
def choice(edit_files) -> ModelChoice:
    return ModelChoice.from_files(family="infinity", patch_nums=SQUARE_SIDES[:7], **edit_files)


def hole(shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    return mask


def inpaint(choice, image, mask, prompt, seed=3) -> np.ndarray:
    request = InpaintRequest(
        model=choice,
        image=image,
        mask=mask,
        prompt=prompt,
        sampling=dataclasses.replace(SAMPLING, seed=seed),
    )
    (variation,) = run_blocking(request).variations
    return variation.image


def test_inpaint_keeps_every_pixel_outside_the_grown_mask(choice):
    image = sample_photo((320, 240))
    mask = hole(image.shape[:2], (120, 80, 200, 150))
    out = inpaint(choice, image, mask, "a red wooden bench")
    grown = grow_mask(mask, task_defaults("infinity", "inpaint").grow_px)
    assert out.shape == image.shape
    assert np.array_equal(out[~grown], image[~grown])
    inside = np.abs(out[mask].astype(int) - image[mask].astype(int))
    assert inside.mean() > 5, "the hole was repainted"


def test_the_prompt_reaches_the_model(choice):
    """Same seed, same mask: another prompt paints another fill (the text is the condition)."""
    image = sample_photo((256, 256))
    mask = hole(image.shape[:2], (64, 64, 192, 192))
    first = inpaint(choice, image, mask, "Add glasses to this girl and change hair color to red")
    again = inpaint(choice, image, mask, "Add glasses to this girl and change hair color to red")
    other = inpaint(choice, image, mask, "a cat")
    assert np.array_equal(first, again)
    assert not np.array_equal(first[mask], other[mask])


@pytest.mark.parametrize("prompt", [None, "", "   "])
def test_a_text_family_without_a_prompt_is_refused_before_loading(prompt):
    files = dict(vae="/nowhere/vae.pth", transformer="/nowhere/t.pth", text_encoder="/nowhere")
    choice = ModelChoice.from_files(family="infinity", **files)
    image = np.zeros((64, 64, 3), np.uint8)
    for request in (
        InpaintRequest(
            model=choice, image=image, mask=hole((64, 64), (8, 8, 20, 20)), prompt=prompt
        ),
        OutpaintRequest(model=choice, image=image, right=32, prompt=prompt),
    ):
        with pytest.raises(UserFacingError, match="Infinity paints from a prompt"):
            validate_request(request)


def test_class_models_do_not_need_a_prompt(tiny_checkpoints):
    vae, var = tiny_checkpoints
    image = np.zeros((64, 64, 3), np.uint8)
    request = InpaintRequest(
        model=ModelChoice.from_files(vae=vae, transformer=var), image=image,
        mask=hole((64, 64), (8, 8, 20, 20)),
    )  # fmt: skip
    validate_request(request)


def test_outpaint_is_one_picture_with_the_photo_bit_exact(choice):
    photo = sample_photo((300, 200))
    request = OutpaintRequest(
        model=choice, image=photo, right=240, bottom=60, prompt="a stone wall", sampling=SAMPLING
    )
    (variation,) = run_blocking(request).variations
    out = variation.image
    assert out.shape == (260, 540, 3)
    assert np.array_equal(out[:200, :300], photo)
    ratios = seam_ratios(out, request, 256)
    assert len(ratios) >= 3
    assert max(ratios) <= SEAM_RATIO, sorted(ratios)[-5:]
    assert np.median(ratios) <= MEDIAN_RATIO


def test_generate_from_a_prompt_is_the_reference_image(choice):
    """Text-to-image through the generate pipeline: the official loop's PNG (±1 level)."""
    from engine.api import GenerateRequest
    from tests.engine.infinity.recipes import PROMPT
    from tests.engine.infinity.test_t2i_parity import GOLDEN, MAIN

    request = GenerateRequest(model=choice, prompt=PROMPT, sampling=SAMPLING)
    assert (SAMPLING.cfg, SAMPLING.tau, SAMPLING.top_p, SAMPLING.seed) == (4.0, 0.5, 0.97, 0)
    request = dataclasses.replace(request, sampling=dataclasses.replace(SAMPLING, seed=42))
    (variation,) = run_blocking(request).variations
    golden = np.asarray(Image.open(GOLDEN / f"{MAIN}_output.png")).astype(np.int16)
    diff = np.abs(variation.image.astype(np.int16) - golden)
    assert diff.max() <= 1 and diff.any(axis=-1).mean() <= 0.005
