"""Memory strategies through the family loader: same bits where the strategy is exact."""

from __future__ import annotations

import pytest
import torch

from engine.api import Sampling
from engine.api.memory import MemoryStrategy
from engine.models.family import Condition
from engine.models.infinity.config import SQUARE_SIDES
from engine.store.infinity import load_varedit_files
from tests.engine.infinity.recipes import PROMPT, fixture_tensors

SAMPLING = Sampling(cfg=4.0, top_k=900, top_p=0.97, tau=0.5)


def load(files, **strategy):
    return load_varedit_files(
        files, patch_nums=SQUARE_SIDES[:7], strategy=MemoryStrategy(**strategy)
    )


def edit_bits(model, source_rgb, text=PROMPT, seed=42):
    return model.sample(Condition(text=text, reference=source_rgb), SAMPLING, seed).tokens


@pytest.fixture(scope="module")
def reference_bits():
    ref = fixture_tensors("edit_cfg4_tau0.5_seed42.safetensors")
    return [ref[f"bits_{si}"].reshape(1, -1, 32) for si in range(7)]


@pytest.mark.parametrize("placement", ["cpu", "release"])
def test_t5_placements_give_the_device_bits(edit_files, source_rgb, reference_bits, placement):
    model = load(edit_files, text_encoder=placement)
    bits = edit_bits(model, source_rgb)
    assert all(torch.equal(a, b) for a, b in zip(bits, reference_bits, strict=True))
    assert model.text_encoder.device.type == "cpu"


def test_released_t5_is_recreated_only_for_a_new_instruction(edit_files, source_rgb):
    model = load(edit_files, text_encoder="release")
    encoder = model.text_encoder
    assert encoder.loads == 1
    edit_bits(model, source_rgb)
    assert encoder.model is None and encoder.loads == 1  # freed after encoding
    first = model.text_features(PROMPT)  # a variation or an undo/redo: cached features
    assert encoder.loads == 1
    model.text_features("make it winter")  # new text: re-created, then freed again
    assert encoder.model is None and encoder.loads == 2
    for n in range(8):  # the oldest falls out of the 8 kept
        model.text_features(f"text {n}")
    assert encoder.loads == 10
    assert torch.equal(model.text_features(PROMPT), first)  # re-encoded: the same features
    assert encoder.loads == 11


def test_streamed_blocks_give_the_resident_bits(edit_files, source_rgb, reference_bits):
    model = load(edit_files, stream_blocks=True)
    streamer = model.transformer.streamer
    assert streamer is not None and len(streamer.slots) == 2
    bits = edit_bits(model, source_rgb)
    assert all(torch.equal(a, b) for a, b in zip(bits, reference_bits, strict=True))
    passes = 1 + 7  # the source pass, then one per scale; 4 blocks each through 2 slots
    assert streamer.copies == passes * 4 + 1  # + block 0, fetched ahead for the next run
    block_bytes = sum(t.numel() * t.element_size() for t in streamer.host[0].values())
    assert streamer.slot_bytes == 2 * block_bytes


def test_int8_blocks_stream_like_they_run_resident(edit_files, source_rgb):
    resident = edit_bits(load(edit_files, int8_blocks=True), source_rgb)
    streamed = edit_bits(load(edit_files, int8_blocks=True, stream_blocks=True), source_rgb)
    assert all(torch.equal(a, b) for a, b in zip(resident, streamed, strict=True))
