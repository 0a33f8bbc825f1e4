"""The shared sampler pieces: guidance, top-k/top-p filtering, the draw, and the token hooks."""

from __future__ import annotations

import pytest
import torch

from engine.samplers.filtering import draw, guide, top_k_top_p_
from engine.samplers.hooks import teacher_force
from engine.samplers.var import cfg_strength, gumbel_soft_codes


def test_guidance_ramps_linearly_from_zero_to_cfg():
    assert [cfg_strength(3.0, si, 4) for si in range(4)] == [0.0, 1.0, 2.0, 3.0]
    cond, uncond = torch.tensor([2.0]), torch.tensor([1.0])
    assert guide(cond, uncond, 0.5).item() == pytest.approx(2.5)  # (1 + t)·c − t·u


def test_top_k_keeps_exactly_the_k_largest_and_their_ties():
    logits = torch.tensor([[[1.0, 5.0, 3.0, 5.0, 0.0]]])
    kept = top_k_top_p_(logits.clone(), top_k=2)
    assert torch.isfinite(kept).tolist() == [[[False, True, False, True, False]]]
    tie = top_k_top_p_(torch.tensor([[[1.0, 3.0, 3.0, 0.0]]]), top_k=1)
    assert torch.isfinite(tie).sum() == 2, "ties with the k-th value are kept"
    assert torch.isfinite(top_k_top_p_(logits.clone(), top_k=5)).all(), "k >= V keeps all"


def test_top_p_keeps_the_smallest_nucleus_and_never_the_empty_set():
    probs = torch.tensor([[[0.5, 0.3, 0.15, 0.05]]])
    kept = torch.isfinite(top_k_top_p_(probs.log(), top_p=0.7))
    assert kept.tolist() == [[[True, True, False, False]]]
    sharp = torch.isfinite(top_k_top_p_(torch.tensor([[[10.0, 0.0, 0.0]]]), top_p=0.01))
    assert sharp.tolist() == [[[True, False, False]]]


def test_draw_is_reproducible_per_generator_and_respects_the_mask():
    logits = torch.randn(2, 16, 32, generator=torch.Generator().manual_seed(0))
    top_k_top_p_(logits, top_k=3)
    first = draw(logits, torch.Generator().manual_seed(7))
    again = draw(logits, torch.Generator().manual_seed(7))
    assert torch.equal(first, again) and first.shape == (2, 16)
    allowed = torch.isfinite(logits).gather(-1, first.unsqueeze(-1))
    assert allowed.all(), "only unmasked tokens are drawn"


def test_gumbel_codes_are_a_convex_mix_of_the_codebook():
    codebook = torch.eye(4)
    logits = torch.zeros(1, 3, 4)
    mixed = gumbel_soft_codes(logits, codebook, ratio=0.5, generator=torch.Generator())
    assert mixed.shape == (1, 3, 4)
    assert torch.allclose(mixed.sum(-1), torch.ones(1, 3)) and (mixed >= 0).all()


def test_teacher_force_feeds_the_source_where_kept_and_the_sample_elsewhere():
    codebook = torch.nn.Embedding(10, 2, _weight=torch.arange(20.0).view(10, 2))
    source = [torch.tensor([[7, 8, 9]])]
    keep = [torch.tensor([[True, False, True]])]
    override = teacher_force(source, keep, codebook)
    sampled = torch.tensor([[1, 2, 3], [4, 5, 6]])
    ids, codes = override(0, sampled, codebook(sampled))
    assert ids.tolist() == [[7, 2, 9], [7, 5, 9]], "kept positions forced in every sample"
    assert torch.equal(codes, codebook(ids))
