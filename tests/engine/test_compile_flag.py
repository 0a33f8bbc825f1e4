"""``ModelChoice(compile=True)``: the blocks' forwards are compiled, the rest untouched, and the
compiled model is cached apart from the eager one. (Running it is benchmarks/compile.py's job:
compiling takes minutes on a CPU.)"""

from __future__ import annotations

import pytest

from engine.api import MemoryStrategy, ModelChoice
from engine.runtime.cancel import UserFacingError
from engine.store.cache import ModelCache
from engine.store.loaders import FAMILY_BLOCKS, FAMILY_LOADERS, load_family


def test_compile_wraps_every_block_and_is_cached_apart():
    cache = ModelCache(capacity=2)
    eager = cache.get(ModelChoice(model_id="demo"))
    compiled = cache.get(ModelChoice(model_id="demo", compile=True))
    assert compiled is not eager
    assert all(
        hasattr(block.forward, "_torchdynamo_orig_callable") for block in compiled.var.blocks
    )
    assert not any("forward" in vars(block) for block in eager.var.blocks)
    assert not hasattr(compiled.var.head.forward, "_torchdynamo_orig_callable")


def test_every_family_says_where_its_blocks_are():
    assert set(FAMILY_LOADERS) <= set(FAMILY_BLOCKS)


def test_compile_and_streamed_blocks_are_refused_together():
    streamed = MemoryStrategy(stream_blocks=True)
    with pytest.raises(UserFacingError, match="cannot be combined"):
        load_family("varedit", {}, strategy=streamed, compile=True)
