"""Opt-in ``torch.compile`` of a model's transformer blocks, where nearly all the time goes.

Why opt-in: on this project's CPU it does not pay (benchmarks/compile.py, demo model: the first
image waits 93 s for compilation, 4.6 s with inductor's disk cache warm, and later images take
1.06x the eager time: every scale has its own shapes and the blocks are already single matmul
kernels); on a GPU fused kernels may pay, and the benchmark records that with the device name.
Graphs are specialised per shape (``dynamic=False``): one per scale, so the cache limit is raised
to hold them all. CUDA graphs ("reduce-overhead") are not used: the
KV cache is written in place between calls, which they would have to capture.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

GRAPHS_PER_BLOCK = 64  # scales x (with/without guidance) x recompiles, with room


def compile_blocks(blocks: Iterable[nn.Module]) -> int:
    """Compile each block's forward in place; returns how many were compiled."""
    import torch._dynamo

    limit = torch._dynamo.config.cache_size_limit
    torch._dynamo.config.cache_size_limit = max(limit, GRAPHS_PER_BLOCK)
    count = 0
    for block in blocks:
        block.forward = torch.compile(block.forward, dynamic=False)
        count += 1
    return count
