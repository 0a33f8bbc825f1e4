"""Block streaming: transformer blocks kept in host RAM, run through a few device "slots".

The last resort when the blocks do not fit on the device: each block's tensors stay in host
memory (pinned when the device is CUDA, so copies are asynchronous), and ``slots`` (2) sets of
device tensors hold the blocks being run. Before block ``i`` runs its tensors are in a slot;
on CUDA the copy of block ``i + 1`` is issued on a side stream while block ``i`` computes, and
the compute stream waits on an event for it (and a copy waits until the slot's previous block
has finished). On the CPU the same path copies synchronously, so tests prove that streaming
gives the same bits as resident weights. The device holds ``slots`` blocks extra, not all.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import torch
from torch import nn
from torch.func import functional_call


def named_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    return dict(chain(module.named_parameters(), module.named_buffers()))


def move_except(module: nn.Module, prefix: str, device: torch.device) -> None:
    """Move every parameter and buffer of ``module`` to ``device`` except those under
    ``prefix`` (e.g. the streamed blocks), in place."""
    for name, child in module.named_modules():
        if not f"{name}.".startswith(prefix):  # each module moves its own tensors only
            child._apply(lambda t: t.to(device), recurse=False)


class BlockStreamer:
    """``streamer(i, *args)`` runs ``blocks[i](*args)`` with its weights copied into a slot.

    The blocks must have the same tensors (names, shapes, dtypes); their own tensors are the
    host copies. With no more blocks than slots every block is copied once and stays.
    """

    def __init__(self, blocks: Sequence[nn.Module], device: torch.device, slots: int = 2):
        self.blocks, self.device = list(blocks), torch.device(device)
        if slots < 2 and len(self.blocks) > 1:
            raise ValueError("streaming needs two slots: one running, one being filled")
        self.cuda = self.device.type == "cuda"
        layout = [_layout(block) for block in self.blocks]
        if any(entry != layout[0] for entry in layout):
            raise ValueError("streamed blocks must all have the same tensors")
        self.host = [self._host_tensors(block) for block in self.blocks]
        slots = min(slots, len(self.blocks))
        self.slots = [
            {name: torch.empty_like(t, device=self.device) for name, t in self.host[0].items()}
            for _ in range(slots)
        ]
        self.resident: list[int | None] = [None] * slots  # block index held by each slot
        self.copies = 0  # blocks copied so far (what streaming costs in transfers)
        self._current = 0  # the slot in use
        if self.cuda:
            self.stream = torch.cuda.Stream(self.device)
            self.ready = [torch.cuda.Event() for _ in range(slots)]
            self.free = [torch.cuda.Event() for _ in range(slots)]

    def _host_tensors(self, block: nn.Module) -> dict[str, torch.Tensor]:
        tensors = named_tensors(block)
        for tensor in tensors.values():
            tensor.data = tensor.data.to("cpu")
            if self.cuda:
                tensor.data = tensor.data.pin_memory()
        return named_tensors(block)

    @property
    def slot_bytes(self) -> int:
        """Device memory the slots take (what streaming adds instead of all blocks)."""
        return sum(t.numel() * t.element_size() for slot in self.slots for t in slot.values())

    def _copy(self, index: int, slot: int) -> None:
        self.resident[slot] = index
        self.copies += 1
        pairs = [(self.slots[slot][name], src) for name, src in self.host[index].items()]
        if not self.cuda:
            for dst, src in pairs:
                dst.copy_(src)
            return
        with torch.cuda.stream(self.stream):
            self.stream.wait_event(self.free[slot])  # the slot's last block has finished
            for dst, src in pairs:
                dst.copy_(src, non_blocking=True)
            self.ready[slot].record(self.stream)

    def _slot_for(self, index: int) -> int:
        """The slot holding block ``index``, copying it into a slot not in use if needed."""
        if index in self.resident:
            return self.resident.index(index)
        others = [s for s in range(len(self.slots)) if s != self._current]
        slot = others[0] if others else self._current
        self._copy(index, slot)
        return slot

    def __call__(self, index: int, *args):
        slot = self._slot_for(index)
        self._current = slot
        if self.cuda:
            torch.cuda.current_stream(self.device).wait_event(self.ready[slot])
        self._slot_for((index + 1) % len(self.blocks))  # prefetch, overlapped on CUDA
        out = functional_call(self.blocks[index], self.slots[slot], args)
        if self.cuda:
            self.free[slot].record(torch.cuda.current_stream(self.device))
        return out


def _layout(block: nn.Module) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    return [(name, tuple(t.shape), t.dtype) for name, t in named_tensors(block).items()]
