"""What one image costs on the device, component by component, for any shape and strategy.

The peak of a run is the resident weights plus the largest of its phases: encoding the
instruction (T5), encoding/decoding with the VAE, and sampling (KV cache + the activations of
the largest scale). Phases never overlap (the KV cache is dropped before the decode), so the
``text_encoder`` and ``vae`` components carry only what their phase adds *above* sampling:
the components then sum to the peak, which is what :attr:`MemoryPlan.total` reports.

KV layout (the low-memory loader's): K and V in the blocks' dtype for the CFG rows, for the
source tokens and every target scale except the last (``last_scale_cached=True`` gives the
layout that caches the last scale too). With ``kv_budget`` each layer holds what the sampler's
:class:`~engine.models.kv_budget.KVBudget` sizes its buffer to (the same object decides both).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.api.memory import MemoryStrategy
from engine.models.infinity.config import square_schedule
from engine.models.kv_budget import KVBudget
from engine.planning import weights
from engine.planning.shapes import ModelShape, T5Shape

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
TORCH_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
CFG_ROWS = 2  # conditional + unconditional branch
FIXED_RUNTIME = 8 * 2**20  # RoPE table, latents, generator, text condition: a few MB


@dataclass(frozen=True)
class TokenLayout:
    """The token layout one sample runs through."""

    rows: int
    source: int  # tokens run once before the first scale (VAREdit source, VARSR LR prefix)
    scales: tuple[tuple[int, int], ...]  # transformer grid per scale
    sar_source: bool  # VAREdit's SAR layer keeps the full source apart from its cache

    def cached_tokens(self, last_scale_cached: bool) -> int:
        scales = self.scales if last_scale_cached else self.scales[:-1]
        return self.source + sum(h * w for h, w in scales)

    @property
    def largest(self) -> int:
        return max(self.source, max(h * w for h, w in self.scales))


def token_layout(shape: ModelShape, resolution: int) -> TokenLayout:
    cfg = shape.transformer
    if shape.bitwise:
        scales = square_schedule(resolution)
        editing = shape.family == "varedit"
        source = scales[-1][0] * scales[-1][1] if editing else 0
        return TokenLayout(CFG_ROWS, source, scales, editing)
    scales = tuple((p, p) for p in cfg.patch_nums)
    prefix = getattr(cfg, "prefix_len", 0)  # VARSR: LR tokens + class token
    return TokenLayout(CFG_ROWS, prefix, scales, False)


def kv_bytes(shape: ModelShape, seq: TokenLayout, block_bytes: int,
             kv_budget: float | None = None, last_scale_cached: bool = False) -> int:  # fmt: skip
    """K and V of every block for the cached tokens; VAREdit's SAR layer also keeps the
    source's keys and the fused qkv output its values are a view of (4 widths per token)."""
    cfg = shape.transformer
    if kv_budget is None:
        tokens = cfg.depth * seq.cached_tokens(last_scale_cached)
    else:
        scales = [h * w for h, w in seq.scales]
        budget = KVBudget(kv_budget, scales, prefix=seq.source)
        tokens = sum(budget.capacity(layer) for layer in range(cfg.depth)) + budget.transient(1)
    per_token = seq.rows * 2 * cfg.embed_dim * block_bytes  # K and V, every row
    extra = 2 * seq.source * per_token if seq.sar_source else 0
    return int(tokens * per_token + extra)


def activation_bytes(shape: ModelShape, seq: TokenLayout, block_bytes: int, device_kind: str,
                     int8: bool, last_scale_cached: bool = False) -> int:  # fmt: skip
    """The peak while the largest scale runs through a block (or the head), in bytes.

    Terms follow the code, in units of one (rows, tokens, width) tensor: the sampler's input,
    the scale's embedded input and the block's float32 stream (the previous scale's hidden
    state and the next input's embedding are alive too); in a block the largest of: the fused
    qkv with q, k and the float32 RoPE temporaries; SDPA (on the CPU in half precision it
    packs the attended K and V, on MPS it materialises the scores; CUDA's flash and
    memory-efficient kernels do neither); the FFN hidden and its GELU, alive for an instant.
    """
    cfg = shape.transformer
    C, R, l = cfg.embed_dim, seq.rows, seq.largest
    b = block_bytes
    unit = R * l * C
    hidden = getattr(cfg, "ffn_hidden", None) or round(C * getattr(cfg, "mlp_ratio", 4.0))
    outputs = 2 * cfg.token_dim if shape.bitwise else cfg.vocab_size
    previous = max((h * w for h, w in seq.scales[:-1]), default=0)
    around = 2 * unit * 4 + l * C * 4 + R * previous * C * 4  # held outside the block
    stream = unit * 4
    rope = unit * (6 * b + 12)
    keys = seq.cached_tokens(last_scale_cached) + (0 if last_scale_cached else l)
    sdpa = unit * 7 * b
    if device_kind == "cpu" and b == 2:
        sdpa += 2 * R * keys * C * b
    elif device_kind == "mps":
        sdpa += 2 * R * cfg.num_heads * l * keys * 4
    ffn = unit * b + 2 * R * l * hidden * b
    head = unit * 4 + 3 * R * l * outputs * 4
    dequantised = 2 * C * hidden * b if int8 else 0  # the int8 matmul's weight in the run dtype
    inside = stream + max(rope, sdpa, ffn, head)
    return int(around + inside + dequantised + FIXED_RUNTIME)


def vae_phase_bytes(shape: ModelShape, resolution: int) -> int:
    """Peak of the float32 encode/decode at full resolution: the last decoder level takes the
    up-sampled features of the level below (``ch_mult[1]`` wide), normalises, activates and
    convolves them to ``ch_mult[0]`` channels."""
    vae = shape.vae
    base = getattr(vae, "base_ch", None) or vae.ch
    top, below = base * vae.ch_mult[0], base * vae.ch_mult[1]
    pixels = resolution * resolution
    return pixels * 4 * (3 * below + 2 * top)


def t5_weight_bytes(text: T5Shape, dtype_bytes: int) -> int:
    return text.params * dtype_bytes


def t5_activation_bytes(text: T5Shape, dtype_bytes: int) -> int:
    """One padded prompt: hidden states, the shared position bias and one layer's scores,
    the gated FFN."""
    n = text.max_tokens
    scores = 3 * text.heads * n * n * dtype_bytes
    states = 4 * n * text.width * dtype_bytes + 3 * n * text.d_ff * dtype_bytes
    return scores + states


def estimate(
    shape: ModelShape,
    resolution: int,
    strategy: MemoryStrategy,
    device_kind: str = "cuda",
    dtype: str = "bf16",
    *,
    kv_budget: float | None = None,
    last_scale_cached: bool = False,
) -> tuple[tuple[str, int], ...]:
    """Bytes on the device: weights, kv_cache, activations, vae, text_encoder (see module)."""
    b = BYTES[dtype]
    stream = strategy.stream_blocks and device_kind != "cpu"
    model = transformer_bytes(shape, dtype, strategy.int8_blocks)
    seq = token_layout(shape, resolution)
    kv = kv_bytes(shape, seq, b, kv_budget, last_scale_cached)
    act = activation_bytes(shape, seq, b, device_kind, strategy.int8_blocks, last_scale_cached)
    sampling = kv + act
    text_resident = text_phase = 0
    if shape.text is not None:
        t5_dtype = b if device_kind == "cuda" else 4  # the loader runs T5 in fp32 off CUDA
        t5_w = t5_weight_bytes(shape.text, t5_dtype)
        t5_act = t5_activation_bytes(shape.text, t5_dtype)
        placement = strategy.text_encoder
        if device_kind == "cpu" and placement == "cpu":
            placement = "device"  # on a CPU run "on the CPU" is resident
        if placement == "device":
            text_resident, text_phase = t5_w, t5_act
        elif placement == "release":
            text_phase = t5_w + t5_act
    vae_phase = vae_phase_bytes(shape, resolution)
    text_extra = max(0, text_phase - sampling)
    vae_extra = max(0, vae_phase - max(sampling, text_phase))
    return (
        ("weights", model.resident(stream)),
        ("kv_cache", kv),
        ("activations", act),
        ("vae", weights.vae_bytes(shape.vae) + vae_extra),
        ("text_encoder", text_resident + text_extra),
    )


def transformer_bytes(shape: ModelShape, dtype: str, int8: bool) -> weights.TransformerBytes:
    cfg = shape.transformer
    if shape.bitwise:
        return weights.infinity_bytes(cfg, BYTES[dtype], int8)
    if shape.family == "varsr":
        return weights.varsr_bytes(cfg, TORCH_DTYPES[dtype], int8)
    return weights.var_bytes(cfg, TORCH_DTYPES[dtype], int8)
