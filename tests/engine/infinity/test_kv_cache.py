"""The KV cache holds the source and every scale but the last, in the blocks' dtype."""

from __future__ import annotations

import torch

from engine.models.infinity.pixels import source_tokens
from engine.samplers.bitwise import BitwiseSettings, sample_bits

SCHEDULE = tuple((s, s) for s in (1, 2, 4, 6, 8, 12, 16))


def cache_bytes_during_edit(transformer, vae, rgb) -> tuple[list[int], list[int]]:
    """(bytes held per layer at the last scale, tokens held per layer) of one guided edit."""
    from engine.models.infinity.pixels import image_to_input

    text = transformer.encode_text(torch.randn(5, transformer.cfg.text_dim), guided=True)
    source = source_tokens(vae.encode_raw(image_to_input(rgb)), SCHEDULE[-1], patchify=False)
    seen: dict[str, list[int]] = {}

    def record(si, _latent, _bits):
        if si == len(SCHEDULE) - 1:
            caches = [block.sa.cache for block in transformer.blocks()]
            seen["bytes"] = [c.nbytes for c in caches]
            seen["tokens"] = [c.length for c in caches]

    settings = BitwiseSettings.constant(len(SCHEDULE), 4.0, 0.5)
    sample_bits(transformer, text, source, SCHEDULE, settings, on_scale=record)
    return seen["bytes"], seen["tokens"]


def test_the_last_scale_is_not_cached(tiny_models, source_rgb):
    transformer, vae = tiny_models
    cfg = transformer.cfg
    held, tokens = cache_bytes_during_edit(transformer, vae, source_rgb)
    targets_but_last = sum(h * w for h, w in SCHEDULE[:-1])  # 265 of 521 target tokens
    capacity = 256 + targets_but_last
    assert capacity == transformer.cache_tokens(256, SCHEDULE) == 521
    assert tokens == [capacity] * cfg.depth  # filled exactly, nothing of the last scale
    per_buffer = 2 * cfg.embed_dim * capacity * 4  # CFG rows x width x tokens x fp32
    sar_source = 2 * 2 * cfg.embed_dim * 256 * 4  # the SAR layer's full-resolution source
    assert held == [2 * per_buffer + sar_source] + [2 * per_buffer] * (cfg.depth - 1)


def test_the_cache_is_in_the_block_dtype(tiny_models, source_rgb):
    import copy

    transformer, vae = tiny_models
    half = copy.deepcopy(transformer)
    half.set_block_dtype(torch.bfloat16)
    held_bf16, _ = cache_bytes_during_edit(half, vae, source_rgb)
    held_fp32, _ = cache_bytes_during_edit(transformer, vae, source_rgb)
    assert [2 * b for b in held_bf16] == held_fp32
