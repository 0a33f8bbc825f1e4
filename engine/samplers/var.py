"""Next-scale sampling for VAR: CFG schedule, top-k / top-p, Gumbel smoothing, per-scale hooks.

Token-for-token compatible with the reference ``autoregressive_infer_cfg`` on the same device:
one ``torch.multinomial`` per scale over all (batch, position) rows, then (smooth only) one
exponential draw shaped like the logits, from one generator seeded once per call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from engine.models.kv_budget import KVBudget
from engine.models.var.pruning import TokenPruning
from engine.models.var.quant import MultiScaleQuantizer
from engine.models.var.transformer import VAR
from engine.samplers.filtering import draw, guide, top_k_top_p_
from engine.samplers.hooks import ScaleCallback, TokenOverride


def cfg_strength(cfg: float, si: int, num_scales: int) -> float:
    """VAR's linear guidance ramp: 0 at the first scale, ``cfg`` at the last."""
    return cfg * si / (num_scales - 1)


def gumbel_soft_codes(
    logits_BlV: torch.Tensor,
    codebook_VC: torch.Tensor,
    ratio: float,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """VAR's ``more_smooth``: a Gumbel-softmax mixture of code vectors with a cooling tau."""
    tau = max(0.27 * (1 - ratio * 0.95), 0.005)
    scaled = logits_BlV.mul(1 + ratio)
    noise = -torch.empty_like(scaled).exponential_(generator=generator).log()
    weights = ((scaled + noise) / tau).softmax(dim=-1)
    return weights @ codebook_VC.unsqueeze(0)


@dataclass
class SampleOutput:
    f_hat: torch.Tensor  # (B, Cvae, H, W) float32
    ids: list[torch.Tensor]  # per scale (B, pn*pn): the ids fed forward (after overrides)


@torch.inference_mode()
def sample_scales(
    var: VAR,
    quantizer: MultiScaleQuantizer,
    labels_B: torch.Tensor,
    *,
    cfg: float = 1.5,
    top_k: int = 0,
    top_p: float = 0.0,
    smooth: bool = False,
    generator: torch.Generator | None = None,
    override: TokenOverride | None = None,
    on_scale: ScaleCallback | None = None,
    check_cancelled: Callable[[], None] | None = None,
    cfg_skip_last: int = 0,
    prune_ratio: float = 0.0,
    prune_scales: int = 2,
    kv_budget: float | None = None,
) -> SampleOutput:
    """Run the coarse-to-fine loop; ``labels_B`` may hold the null class (``num_classes``).

    The reference always runs a doubled (conditional + unconditional) batch. When the two
    halves are provably equal (every label is the null class, as in in- and out-painting) or
    the unconditional half cannot matter (cfg = 0), only one half is run: half the compute
    for the same guided logits.

    Kept as one loop (over the usual length) on purpose: each step maps line for line onto the
    reference's, which is what the token-for-token parity tests check.
    Opt-in approximations (defaults off): ``cfg_skip_last`` runs the last N scales on the
    conditional half only; ``prune_ratio`` > 0 prunes that fraction of tokens in every block of
    the ``prune_scales`` largest scales (see ``engine.models.var.pruning``); ``kv_budget``
    keeps that share of each layer's KV cache on the large scales (``engine.models.kv_budget``).
    """
    patch_nums: Sequence[int] = var.cfg.patch_nums
    num_scales = len(patch_nums)
    B = labels_B.shape[0]
    null = torch.full_like(labels_B, var.cfg.num_classes)
    one_half = cfg == 0 or bool((labels_B == null).all())
    cond_BD = var.class_emb(labels_B if one_half else torch.cat((labels_B, null)))
    lvl_pos = var.lvl_pos()
    token_map = var.first_tokens(cond_BD, lvl_pos)
    size = patch_nums[-1]
    f_hat = cond_BD.new_zeros(B, quantizer.channels, size, size)
    codebook = quantizer.embedding.weight
    fed_ids: list[torch.Tensor] = []
    cur_L = 0
    pruning = TokenPruning(1.0 - prune_ratio) if prune_ratio > 0 else None
    tokens = [pn * pn for pn in patch_nums]
    budget = None if kv_budget is None else KVBudget(kv_budget, tokens)
    with var.kv_cache(capacity=sum(tokens[:-1]), budget=budget):
        for si, pn in enumerate(patch_nums):
            if check_cancelled is not None:
                check_cancelled()
            ratio = si / (num_scales - 1)
            cur_L += pn * pn
            if not one_half and si >= num_scales - cfg_skip_last:  # SkipVAR: drop the CFG half
                one_half, cond_BD, token_map = True, cond_BD[:B], token_map[:B]
                var.keep_cache_rows(B)
            if pruning is not None:
                pruning.set_scale((pn, pn), si >= num_scales - prune_scales)
            if budget is not None:
                budget.set_scale(si, (pn, pn))
            both = var.run_blocks(token_map, cond_BD, pruning=pruning)
            cond, uncond = (both, both) if one_half else (both[:B], both[B:])
            logits = guide(cond, uncond, cfg_strength(cfg, si, num_scales))
            top_k_top_p_(logits, top_k, top_p)
            ids = draw(logits, generator)
            if smooth:
                h_BlC = gumbel_soft_codes(logits, codebook, ratio, generator)
            else:
                h_BlC = quantizer.embedding(ids)
            if override is not None:
                ids, h_BlC = override(si, ids, h_BlC)
            fed_ids.append(ids)
            h_BChw = h_BlC.transpose(1, 2).reshape(B, quantizer.channels, pn, pn)
            quantizer.add_scale_(f_hat, si, h_BChw)
            if on_scale is not None:
                on_scale(si, f_hat, ids)
            if si != num_scales - 1:
                nxt = (
                    quantizer.next_input(f_hat, si).view(B, quantizer.channels, -1).transpose(1, 2)
                )
                nxt_L = patch_nums[si + 1] ** 2
                token_map = var.word_embed(nxt) + lvl_pos[:, cur_L : cur_L + nxt_L]
                if not one_half:
                    token_map = token_map.repeat(2, 1, 1)
    return SampleOutput(f_hat=f_hat, ids=fed_ids)
