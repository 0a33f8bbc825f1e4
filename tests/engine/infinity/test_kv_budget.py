"""The opt-in KV budget on VAREdit/Infinity: a full budget is the exact path; a small one keeps
the SAR layer whole, stores less in every other layer (source included) and still edits."""

from __future__ import annotations

from dataclasses import replace

import torch

from engine.api import Sampling
from engine.models.family import Condition
from engine.models.kv_budget import KVBudget
from tests.engine.infinity.recipes import PROMPT

SAMPLING = Sampling(cfg=4.0, top_k=900, top_p=0.97, tau=0.5)


def cache_bytes(model, record: list[list[int]]):
    blocks = list(model.transformer.blocks())
    return lambda si, latent: record.append([b.sa.cache.nbytes for b in blocks])


def test_a_full_budget_is_the_exact_edit(edit_model, source_rgb):
    condition = Condition(text=PROMPT, reference=source_rgb)
    exact = edit_model.sample(condition, SAMPLING, 42)
    full = edit_model.sample(condition, replace(SAMPLING, kv_budget=1.0), 42)
    assert all(torch.equal(a, b) for a, b in zip(exact.tokens, full.tokens, strict=True))


def test_a_small_budget_stores_less_and_still_edits(edit_model, source_rgb):
    condition = Condition(text=PROMPT, reference=source_rgb)
    exact_bytes: list[list[int]] = []
    small_bytes: list[list[int]] = []
    exact = edit_model.sample(
        condition, SAMPLING, 42, on_scale=cache_bytes(edit_model, exact_bytes)
    )
    small = edit_model.sample(
        condition,
        replace(SAMPLING, kv_budget=0.2),
        42,
        on_scale=cache_bytes(edit_model, small_bytes),
    )
    assert small_bytes[-1][0] == exact_bytes[-1][0]  # the SAR layer keeps everything
    assert all(s < 0.6 * e for s, e in zip(small_bytes[-1][1:], exact_bytes[-1][1:], strict=True))
    scales = [h * w for h, w in edit_model.token_schedule]
    budget = KVBudget(0.2, scales, prefix=scales[-1])
    assert budget.capacity(1) < 0.6 * budget.capacity(0)
    for bits, ref in zip(small.tokens, exact.tokens, strict=True):
        assert bits.shape == ref.shape and bool(((bits == 0) | (bits == 1)).all())
    assert not all(torch.equal(a, b) for a, b in zip(small.tokens, exact.tokens, strict=True))
    image = edit_model.decode(small.latent)
    assert image.shape == (256, 256, 3)
