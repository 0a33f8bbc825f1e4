"""Strict state-dict loading with a readable account of what does not fit.

Every family loads released checkpoints through this, so a wrong file is refused with the
missing, unexpected and mis-shaped keys named rather than a bare PyTorch traceback.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from engine.runtime.cancel import UserFacingError


def mismatch(
    own: Mapping[str, tuple[int, ...]], given: Mapping[str, tuple[int, ...]]
) -> str | None:
    """What keeps ``given`` (key -> shape) from loading into a module with ``own``, in words."""
    missing = sorted(set(own) - set(given))
    unexpected = sorted(set(given) - set(own))
    misshaped = sorted(
        f"{key} {tuple(given[key])} (expected {tuple(own[key])})"
        for key in set(own) & set(given)
        if tuple(given[key]) != tuple(own[key])
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
    return "; ".join(problems) if problems else None


def shapes(state: Mapping[str, object]) -> dict[str, tuple[int, ...]]:
    """key -> shape of tensors, or of anything with a ``shape`` (importers read headers only)."""
    return {key: tuple(value.shape) for key, value in state.items()}


def check_strict(module: torch.nn.Module, state: Mapping[str, object], name: str) -> None:
    """Refuse ``state`` unless it would load strictly; ``module`` may live on the meta device
    (shapes only: checking a checkpoint costs no memory)."""
    problem = mismatch(shapes(module.state_dict()), shapes(state))
    if problem:
        raise UserFacingError(f"{name}: does not match the model: {problem}.")


def load_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor], name: str) -> None:
    """``load_state_dict(strict=True)`` with a readable list of what does not fit."""
    check_strict(module, state, name)
    # assign=True adopts the (possibly memory-mapped) tensors instead of copying them.
    module.load_state_dict(state, strict=True, assign=True)
