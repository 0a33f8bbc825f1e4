"""VARSR's next-scale loop with image CFG and the diffusion refiner, as ``test_varsr.py`` runs it.

Random numbers are drawn in the reference's order: one categorical draw per scale (from
``generator``, or the global generator when it is None, like the official unseeded run), then
the refiner's noise, always from the global CPU generator. ``sample_varsr_seeded(seed=S)``
therefore reproduces the official run made right after ``torch.manual_seed(S)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from engine.models.var.quant import MultiScaleQuantizer
from engine.models.varsr.refiner import refine, respaced_schedule
from engine.models.varsr.transformer import VARSRTransformer
from engine.samplers.filtering import draw, guide, top_k_top_p_
from engine.samplers.hooks import ScaleCallback, TokenOverride
from engine.samplers.var import cfg_strength

# Reference defaults of test_varsr.py (test_tile.py uses cfg 7).
DEFAULT_CFG, DEFAULT_TOP_K, DEFAULT_TOP_P = 6.0, 1, 0.75
POSITIVE_LABEL = 0  # "high quality"; the CFG negative is the last label ("low quality")


@dataclass
class VARSROutput:
    f_hat: torch.Tensor  # (B, Cv, 32, 32) after the refiner: the decoder's input
    f_hat_before_refiner: torch.Tensor
    refiner_residual: torch.Tensor  # (B, Cv, 32, 32), already x 0.6
    ids: list[torch.Tensor]  # per scale (B, pn*pn), the ids fed forward


@dataclass
class Trace:
    """Optional recorder of intermediate tensors (parity tests, diagnostics)."""

    raw_logits: list[torch.Tensor] = field(default_factory=list)  # (2B, l, V) per scale
    guided_logits: list[torch.Tensor] = field(default_factory=list)  # (B, l, V), pre-masking
    prefix: torch.Tensor | None = None
    last_hidden: torch.Tensor | None = None
    refiner_cond: torch.Tensor | None = None
    refiner_steps: list[tuple[int, torch.Tensor, torch.Tensor]] = field(default_factory=list)


def _first_tokens(
    model: VARSRTransformer, lr_B3HW: torch.Tensor, labels_B: torch.Tensor, trace: Trace | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(first input (2B, 1025, C), cond (2B, C), level embeddings (1, L, C))."""
    prefix = model.prefix_tokens(lr_B3HW)
    if trace is not None:
        trace.prefix = prefix.clone()
    negative = torch.full_like(labels_B, model.negative_label)
    cond_BD = model.class_emb(torch.cat((labels_B, negative)))
    sos = torch.cat((prefix.repeat(2, 1, 1), cond_BD.unsqueeze(1)), dim=1)
    lvl_pos = model.lvl_embed(model.lvl_1L)
    first_l = model.cfg.prefix_len
    two_b = sos.shape[0]
    first = (
        sos.expand(two_b, first_l, -1)
        + model.pos_start.expand(two_b, first_l, -1)
        + lvl_pos[:, :first_l]
    )
    return first, cond_BD, lvl_pos


def _refine_last_scale(
    model: VARSRTransformer,
    quantizer: MultiScaleQuantizer,
    last_hidden: torch.Tensor,
    last_ids: torch.Tensor,
    cfg_last: float,
    trace: Trace | None,
) -> torch.Tensor:
    """The refiner's residual (B, Cv, pn, pn) for the last scale, conditional half."""
    B, l = last_ids.shape
    pn = model.cfg.patch_nums[-1]
    emb = model.word_embed(quantizer.embedding(last_ids))
    z = model.decoder_norm(last_hidden.float() + torch.cat((emb, emb)))
    if trace is not None:
        trace.refiner_cond = z.clone()
    hook = None if trace is None else (lambda i, n, x: trace.refiner_steps.append((i, n, x)))
    r = refine(
        model.diffloss.net, z.reshape(2 * B * l, -1), cfg_last, respaced_schedule(), on_step=hook
    )
    r = r.reshape(2 * B, l, -1).chunk(2)[0]
    return r.transpose(1, 2).reshape(B, quantizer.channels, pn, pn)


@torch.inference_mode()
def sample_varsr(
    model: VARSRTransformer,
    quantizer: MultiScaleQuantizer,
    lr_B3HW: torch.Tensor,
    *,
    labels_B: torch.Tensor | None = None,
    cfg: float = DEFAULT_CFG,
    top_k: int = DEFAULT_TOP_K,
    top_p: float = DEFAULT_TOP_P,
    generator: torch.Generator | None = None,
    override: TokenOverride | None = None,
    on_scale: ScaleCallback | None = None,
    check_cancelled: Callable[[], None] | None = None,
    trace: Trace | None = None,
) -> VARSROutput:
    """``autoregressive_infer_cfg`` of the reference for LR windows in [-1, 1], (B, 3, 512, 512)."""
    patch_nums = model.cfg.patch_nums
    num_scales = len(patch_nums)
    B = lr_B3HW.shape[0]
    if labels_B is None:
        labels_B = torch.full((B,), POSITIVE_LABEL, dtype=torch.long, device=lr_B3HW.device)
    token_map, cond_BD, lvl_pos = _first_tokens(model, lr_B3HW, labels_B, trace)
    size = patch_nums[-1]
    f_hat = token_map.new_zeros(B, quantizer.channels, size, size).float()
    fed_ids: list[torch.Tensor] = []
    cur = 0
    with model.kv_cache():
        for si, pn in enumerate(patch_nums):
            if check_cancelled is not None:
                check_cancelled()
            span = model.cfg.prefix_len if si == 0 else pn * pn
            hidden = model.run_blocks(token_map, cond_BD, model.freqs[cur : cur + span])
            cur += span
            logits = model.logits(hidden, cond_BD)
            t = cfg_strength(cfg, si, num_scales)
            guided = guide(logits[:B], logits[B:], t)
            if si == 0:
                guided = guided[:, [-1], :]  # the class-token position predicts the 1x1 map
            if trace is not None:
                trace.raw_logits.append(logits[:, -1:] if si == 0 else logits)
                trace.guided_logits.append(guided.clone())
            ids = draw(top_k_top_p_(guided, top_k, top_p), generator)
            h_BlC = quantizer.embedding(ids)
            if override is not None:
                ids, h_BlC = override(si, ids, h_BlC)
            fed_ids.append(ids)
            quantizer.add_scale_(f_hat, si, h_BlC.transpose(1, 2).reshape(B, -1, pn, pn))
            if on_scale is not None:
                on_scale(si, f_hat, ids)
            if si == num_scales - 1:
                last_hidden = hidden
                continue
            nxt = quantizer.next_input(f_hat, si).view(B, quantizer.channels, -1).transpose(1, 2)
            nxt_l = patch_nums[si + 1] ** 2
            token_map = (model.word_embed(nxt) + lvl_pos[:, cur : cur + nxt_l]).repeat(2, 1, 1)
    if trace is not None:
        trace.last_hidden = last_hidden
    before = f_hat.clone()
    residual = _refine_last_scale(model, quantizer, last_hidden, fed_ids[-1], t, trace)
    return VARSROutput(f_hat.add_(residual), before, residual, fed_ids)


def sample_varsr_seeded(
    model: VARSRTransformer,
    quantizer: MultiScaleQuantizer,
    lr_B3HW: torch.Tensor,
    seed: int,
    **kwargs,
) -> VARSROutput:
    """Run as the reference does right after ``torch.manual_seed(seed)``, leaving the caller's
    global random state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return sample_varsr(model, quantizer, lr_B3HW, **kwargs)
