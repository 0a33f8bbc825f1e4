"""Weight-only int8 linear layers: symmetric, one fp32 scale per output channel.

``W ≈ q * s`` with ``q = round(W / s)`` in [-127, 127] and ``s = max|W_row| / 127``. Weights are
quantised tensor by tensor while a checkpoint is read (:func:`quantize_rows`), so no full
bf16/fp32 copy of the blocks ever exists; the forward dequantises one layer at a time to the
activations' dtype and runs the ordinary matmul, so the only difference from the bf16 model is
the rounding of the weights (activations are not quantised). On the CPU this costs time (the
int8 -> bf16 conversion of every weight per pass); ``torch._weight_int8pack_mm`` was faster
only for a handful of rows (measured: 17 vs 28 ms bf16 at 2 rows, 1245 vs 96 ms at 512 rows for
an 8192x2048 layer), so it is not used.

What measuring this on random weights does and does not prove: random Gaussian weights have no
outlier channels and random activations no outlier features, so the per-row absmax is close to
3-4 sigma and the rounding error is small and uniform. Trained transformers have outlier
channels that inflate a row's scale; the error on real checkpoints can only be judged on them.
The figures show the mechanics are right (the error is the size rounding predicts, the
sampler's bits agree where the logits are not on a knife edge), not that quality is kept.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

QMAX = 127


@torch.no_grad()
def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(out, in) weights of any float dtype -> (int8 (out, in), fp32 scales (out,))."""
    w = weight.float()
    scale = w.abs().amax(dim=1).div_(QMAX)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero row stays zero
    q = (w / scale[:, None]).round_().clamp_(-QMAX, QMAX).to(torch.int8)  # never in place:
    # ``w`` may be the caller's (or a memory-mapped file's) own tensor
    return q, scale


class Int8Linear(nn.Module):
    """``nn.Linear`` with int8 weights; state keys ``weight`` (int8), ``scale`` (fp32), ``bias``
    (the blocks' dtype), so a quantised model is saved and counted like any other."""

    def __init__(self, in_features: int, out_features: int, bias: bool, dtype: torch.dtype):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("scale", torch.ones(out_features, dtype=torch.float32))
        self.bias = nn.Parameter(torch.zeros(out_features, dtype=dtype)) if bias else None
        self.compute_dtype = dtype

    def dequantized(self, dtype: torch.dtype) -> torch.Tensor:
        """This layer's weights in ``dtype`` (transient: one layer at a time). Computed in
        ``dtype`` (int8 values are exact there): a float32 pass cost 3x more on the CPU."""
        return self.weight.to(dtype).mul_(self.scale.to(dtype)[:, None])

    def run(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return F.linear(x, self.dequantized(x.dtype), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, self.bias)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, int8, {self.compute_dtype}"


def linear(layer: nn.Module, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ W^T + bias`` with an explicit bias, for plain and int8 layers alike."""
    if isinstance(layer, Int8Linear):
        return layer.run(x, bias)
    return F.linear(x, layer.weight, bias)


def output_dtype(layer: nn.Module) -> torch.dtype:
    """The dtype a layer computes in: its float weights', or an int8 layer's compute dtype."""
    if isinstance(layer, Int8Linear):
        return layer.compute_dtype
    return layer.weight.dtype


def swap_to_int8(root: nn.Module, names: Iterable[str], dtype: torch.dtype) -> None:
    """Replace the ``nn.Linear`` submodules ``names`` of ``root`` by empty :class:`Int8Linear`
    (on the device of the current default, e.g. meta: a skeleton to load a state into)."""
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = root.get_submodule(parent_name)
        old = getattr(parent, child)
        device = old.weight.device
        with torch.device(device):
            new = Int8Linear(old.in_features, old.out_features, old.bias is not None, dtype)
        setattr(parent, child, new)
