"""Strict state-dict loading with a readable account of what does not fit.

Every family loads released checkpoints through this, so a wrong file is refused with the
missing, unexpected and mis-shaped keys named rather than a bare PyTorch traceback.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from engine.runtime.cancel import UserFacingError


def load_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor], name: str) -> None:
    """``load_state_dict(strict=True)`` with a readable list of what does not fit."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshaped = sorted(
        f"{key} {tuple(state[key].shape)} (expected {tuple(own[key].shape)})"
        for key in set(own) & set(state)
        if tuple(state[key].shape) != tuple(own[key].shape)
    )
    problems = []
    for label, keys in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("mis-shaped", misshaped),
    ):
        if keys:
            shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
            problems.append(f"{len(keys)} {label} key(s): {shown}")
    if problems:
        raise UserFacingError(f"{name}: does not match the model: " + "; ".join(problems) + ".")
    # assign=True adopts the (possibly memory-mapped) tensors instead of copying them.
    module.load_state_dict(state, strict=True, assign=True)
