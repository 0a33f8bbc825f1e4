"""Safe checkpoint reading: safetensors or ``torch.load(weights_only=True)``, never full unpickling.

Released VAR checkpoints are plain ``torch.save(state_dict)`` pickles; ``weights_only=True`` only
rebuilds tensors and containers, so a tampered file with a ``__reduce__`` payload is refused
instead of executed.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping

import torch

from engine.runtime.cancel import UserFacingError
from engine.store.hashing import sha256_file

Progress = Callable[[int, int], None]


def read_state_dict(
    path: str,
    expected_sha256: str | None = None,
    progress: Progress | None = None,
) -> dict[str, torch.Tensor]:
    """Read a checkpoint into a ``{key: tensor}`` dict on the CPU.

    ``.safetensors`` files are memory-mapped (no fp32 copy spike); anything else goes through
    ``torch.load(weights_only=True, mmap=True)``. A wrong sha256, a truncated file or a pickle
    that tries to run code raises ``UserFacingError`` naming the file.
    """
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise UserFacingError(f"{name}: checkpoint file not found ({path}).")
    size = os.path.getsize(path)
    if size == 0:
        raise UserFacingError(f"{name}: the checkpoint file is empty.")
    if expected_sha256 is not None:
        actual = sha256_file(path, progress)
        if actual.lower() != expected_sha256.lower():
            raise UserFacingError(
                f"{name}: checksum mismatch (the file is damaged or was altered); "
                "download or import it again."
            )
    if path.endswith(".safetensors"):
        state = _read_safetensors(path, name)
    else:
        state = _read_torch_pickle(path, name)
    if progress is not None:
        progress(size, size)
    return state


def _read_safetensors(path: str, name: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return dict(load_file(path, device="cpu"))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise UserFacingError(f"{name}: not a readable safetensors checkpoint ({exc}).") from exc


def _read_torch_pickle(path: str, name: str) -> dict[str, torch.Tensor]:
    return _as_flat_state_dict(torch_load(path, name), name)


def torch_load(path: str, name: str) -> object:
    """``torch.load(weights_only=True)`` whose every failure is one sentence naming the file.

    torch's own warnings (an unusual pickle protocol...) are not for the user: the outcome is.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True, mmap=_is_zip(path))
    except pickle.UnpicklingError as exc:
        if "Unsupported operand" in str(exc):
            raise UserFacingError(
                f"{name}: saved in a pickle format that cannot be read safely; re-save it with "
                "torch.save or convert it to .safetensors."
            ) from exc
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))  # name what was refused, if torch says
        what = f" ({found.group(1)})" if found else ""
        raise UserFacingError(
            f"{name}: refused to load: the file contains code or objects other than tensors"
            f"{what}, which a model checkpoint never needs."
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UserFacingError(f"{name}: the checkpoint is truncated or corrupt ({exc}).") from exc
    except Exception as exc:  # a text or random file trips the unpickler in many ways
        raise UserFacingError(
            f"{name}: not a PyTorch checkpoint (the file is not a saved state dict)."
        ) from exc


def _is_zip(path: str) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


WRAPPER_KEYS = ("state_dict", "model", "trainer", "vae")  # vae: Infinity's BSQ VAE file


def _all_tensors(value: object) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(v, torch.Tensor) for v in value.values())
    )


def flat_tensors(loaded: object) -> dict[str, torch.Tensor] | None:
    """The state dict in what ``torch.load`` returned: bare, under a common wrapper key, or
    the one dictionary of tensors a level down; ``None`` when there is none."""
    if not isinstance(loaded, Mapping):
        return None
    if _all_tensors(loaded):
        return dict(loaded)
    nested = [loaded.get(key) for key in WRAPPER_KEYS] + list(loaded.values())
    return next((dict(value) for value in nested if _all_tensors(value)), None)


def _as_flat_state_dict(loaded: object, name: str) -> dict[str, torch.Tensor]:
    state = flat_tensors(loaded)
    if state is None:
        raise UserFacingError(f"{name}: not a model checkpoint (expected a dictionary of tensors).")
    return state
