"""Small construction helpers shared by the model files."""

from __future__ import annotations

import torch
from torch import nn


def embedding(num: int, dim: int) -> nn.Embedding:
    """An ``nn.Embedding`` that skips its random init when built on the meta device.

    Checkpoint loading builds models on ``meta``; there ``normal_`` runs through torch's
    reference kernels, which import torch._dynamo (~1 s holding the GIL, freezing the GUI).
    """
    weight = torch.empty(num, dim)
    if not weight.is_meta:
        nn.init.normal_(weight)
    return nn.Embedding(num, dim, _weight=weight)
