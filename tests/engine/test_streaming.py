"""Block streaming on the CPU: the same code path as CUDA without streams, same bits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.models.streaming import BlockStreamer, move_except


class Block(nn.Module):
    def __init__(self, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.fc = nn.Linear(8, 8)
        self.fc.weight.data = torch.randn(8, 8, generator=g) / 3
        self.register_buffer("shift", torch.randn(8, generator=g))

    def forward(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        return torch.tanh(self.fc(x) * scale + self.shift)


def run_resident(blocks, x):
    for block in blocks:
        x = block(x, 0.5)
    return x


@pytest.mark.parametrize("count", [1, 2, 5])
def test_streaming_gives_the_resident_bits(count):
    blocks = [Block(seed) for seed in range(count)]
    x = torch.randn(3, 8)
    expected = [run_resident(blocks, x), run_resident(blocks, x + 1)]
    streamer = BlockStreamer(blocks, torch.device("cpu"))
    got = []
    for start in (x, x + 1):  # two passes over the blocks
        y = start
        for index in range(count):
            y = streamer(index, y, 0.5)
        got.append(y)
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))
    assert len(streamer.slots) == min(2, count)
    # more blocks than slots: each copied once per pass (+ block 0 ahead for the next one);
    # no more than slots: copied once and kept.
    assert streamer.copies == (2 * count + 1 if count > 2 else count)
    one_block = sum(t.numel() * t.element_size() for t in streamer.host[0].values())
    assert streamer.slot_bytes == min(2, count) * one_block


def test_streamer_refuses_blocks_of_different_shapes():
    other = Block(1)
    other.fc = nn.Linear(8, 4)
    with pytest.raises(ValueError, match="same tensors"):
        BlockStreamer([Block(0), other], torch.device("cpu"))
    with pytest.raises(ValueError, match="two slots"):
        BlockStreamer([Block(0), Block(1)], torch.device("cpu"), slots=1)


def test_move_except_leaves_the_prefix_where_it_is():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model.to(torch.float64)
    move_except(model, "1.", torch.device("meta"))
    assert model[0].weight.is_meta and not model[1].weight.is_meta


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_streaming_on_cuda_overlaps_copies_and_gives_the_same_bits():
    blocks = [Block(seed).cuda() for seed in range(4)]
    x = torch.randn(3, 8, device="cuda")
    expected = run_resident(blocks, x)
    streamer = BlockStreamer(blocks, torch.device("cuda"))
    assert all(t.is_pinned() for t in streamer.host[0].values())
    y = x
    for index in range(4):
        y = streamer(index, y, 0.5)
    assert torch.equal(y, expected)
