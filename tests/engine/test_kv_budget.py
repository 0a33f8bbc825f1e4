"""The KV cache: the last scale is attended to but never stored (exact), and the opt-in
ScaleKV-style budget keeps a share of each layer's cache on the large scales (approximate)."""

from __future__ import annotations

import pytest
import torch

from engine.models.kv_budget import KVBudget, select_keys, window_positions
from engine.samplers.var import sample_scales
from tests.tiny_models import tiny_models


@pytest.fixture(scope="module")
def tiny():
    return tiny_models()


def sample(tiny, seed: int = 0, on_scale=None, **options):
    vqvae, var = tiny
    generator = torch.Generator().manual_seed(seed)
    labels = torch.tensor([3, 7])
    return sample_scales(
        var, vqvae.quantize, labels, cfg=2.0, generator=generator, on_scale=on_scale, **options
    )


def cached_lengths(var, record: list[list[int]]):
    """An on_scale hook recording every layer's cached tokens after each scale."""
    return lambda si, f_hat, ids: record.append([b.attn.cached_len for b in var.blocks])


def test_the_last_scale_is_never_stored(tiny):
    _, var = tiny
    tokens = [pn * pn for pn in var.cfg.patch_nums]
    record: list[list[int]] = []
    sample(tiny, on_scale=cached_lengths(var, record))
    assert record[-2] == [sum(tokens[:-1])] * var.cfg.depth
    assert record[-1] == record[-2]  # attended, not appended
    assert all(b.attn.cached_k is None for b in var.blocks)  # and all dropped afterwards


def test_a_full_budget_is_the_exact_path(tiny):
    exact, full = sample(tiny), sample(tiny, kv_budget=1.0)
    assert all(torch.equal(a, b) for a, b in zip(exact.ids, full.ids, strict=True))


def test_a_budget_shrinks_every_layer_but_the_first_and_still_samples(tiny):
    _, var = tiny
    tokens = [pn * pn for pn in var.cfg.patch_nums]
    budget = KVBudget(0.3, tokens)
    record: list[list[int]] = []
    out = sample(tiny, on_scale=cached_lengths(var, record), kv_budget=0.3)
    before_last = record[-2]
    assert before_last[0] == sum(tokens[:-1])  # the drafter layer keeps everything
    assert all(n < sum(tokens[:-1]) for n in before_last[1:])
    assert all(n >= budget.floor for n in before_last[1:])
    assert all(n <= budget.capacity(1) for n in before_last[1:])
    assert all(int(i.max()) < var.cfg.vocab_size for i in out.ids)
    exact = sample(tiny)
    first = budget.first_compressed
    assert all(
        torch.equal(a, b) for a, b in zip(exact.ids[: first + 1], out.ids[: first + 1], strict=True)
    )
    assert not all(torch.equal(a, b) for a, b in zip(exact.ids, out.ids, strict=True))


def test_budget_capacity_is_what_the_run_holds():
    budget = KVBudget(0.25, [1, 4, 9, 16, 25, 36, 64, 100, 169, 256])
    full = sum([1, 4, 9, 16, 25, 36, 64, 100, 169])
    assert budget.capacity(0) == full
    assert budget.floor <= budget.capacity(1) < full
    with pytest.raises(ValueError):
        KVBudget(0.0, [1, 4])


def test_a_prefix_is_compressed_like_any_pass():
    """VAREdit's 4096 source tokens at 1024 px: layers > 0 store a share of them right away."""
    scales = [s * s for s in (1, 2, 4, 6, 8, 12, 16, 20, 24, 32, 40, 48, 64)]
    budget = KVBudget(0.1, scales, prefix=4096)
    full = 4096 + sum(scales[:-1])
    assert budget.capacity(0) == full  # the SAR layer keeps everything
    assert budget.capacity(1) < 0.3 * full
    assert budget.capacity(1) + budget.transient(1) == 4096  # briefly, the source whole
    assert budget.held(1)[0] == (4096, budget.floor)


def test_selection_keeps_the_window_and_the_keys_it_looks_at():
    torch.manual_seed(0)
    B, H, c, grid = 1, 2, 8, (4, 4)
    old, new = 20, grid[0] * grid[1]
    q = torch.nn.functional.normalize(torch.randn(B, H, new, c), dim=-1) * 0.1
    k = torch.nn.functional.normalize(torch.randn(B, H, old + new, c), dim=-1) * 0.1
    k[:, :, 7] = q[:, :, 5] * 200  # one old key that a window query matches strongly
    keep = new + 5  # the strong key and its pooled neighbours (kernel 5)
    idx = select_keys(q, k, old, grid, keep, scale=1.0)
    assert idx.shape == (B, H, keep)
    window = old + window_positions(grid, q.device)
    for head in range(H):
        kept = set(idx[0, head].tolist())
        assert set(window.tolist()) <= kept
        assert set(range(5, 10)) <= kept
        assert idx[0, head].tolist() == sorted(kept)


def test_window_positions_cover_the_map_and_small_grids():
    assert window_positions((16, 16), torch.device("cpu")).tolist() == [
        r * 16 + c for r in (2, 6, 10, 14) for c in (2, 6, 10, 14)
    ]
    assert window_positions((1, 1), torch.device("cpu")).tolist() == [0]
    assert len(window_positions((2, 3), torch.device("cpu"))) == 6
