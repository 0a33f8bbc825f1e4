"""Device and precision choice, with a clear message when the hardware is not there."""

from __future__ import annotations

import torch

from engine.runtime.cancel import UserFacingError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (the best one present)."""
    name = (name or "cpu").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserFacingError("No CUDA GPU is available here; choose the CPU device instead.")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserFacingError(
                f"There is no GPU {device.index}; this machine has {torch.cuda.device_count()}."
            )
        return device
    if name == "mps":
        if not _mps_available():
            raise UserFacingError("Apple Metal (mps) is not available here; choose the CPU.")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise UserFacingError(f"Unknown device '{name}': use cpu, cuda, cuda:N, mps or auto.")


def resolve_dtype(name: str) -> torch.dtype:
    try:
        return DTYPES[(name or "fp32").lower()]
    except KeyError:
        raise UserFacingError(f"Unknown precision '{name}': use fp32, bf16 or fp16.") from None


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    """A per-job generator on the sampling device, seeded once per sample (reference behaviour)."""
    return torch.Generator(device=device).manual_seed(int(seed))
