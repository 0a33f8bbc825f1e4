"""Start-up side of the managed GPU folder: choose which torch this process imports.

This runs before anything imports torch (the frozen entry point and ``python -m app.gpu_env`` go
through :func:`main`). When a GPU build is active its ``site-packages`` goes to the front of
``sys.path``, so ``import torch`` finds the CUDA torch; everything else still comes from the
bundle. ``--cpu`` (or ``FINESCALE_TORCH_ENV=``) starts with the bundled CPU torch, and a GUI start
whose window never opened falls back to the CPU build on the next start by itself.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ENV_VAR = "FINESCALE_TORCH_ENV"  # a site-packages folder; set and empty means the bundled torch
PROBE_OUT = "FINESCALE_PROBE_OUT"  # where --gpu-probe writes its JSON
FELL_BACK = "FINESCALE_GPU_FELL_BACK"  # set for the dialog: this start fell back to the CPU
HEADLESS = ("--self-test", "--screenshot", "--gpu-probe")


def gpu_root() -> Path:
    """The managed folder, beside the user's models (``FINESCALE_GPU_DIR`` overrides it)."""
    override = os.environ.get("FINESCALE_GPU_DIR")
    if override:
        return Path(override)
    from engine.store.locations import data_dir  # Qt- and torch-free

    return data_dir() / "gpu"


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def active_site(root: Path) -> Path | None:
    """The active GPU build's site-packages, or None (CPU, or a folder that has gone)."""
    active = read_json(root / "active.json")
    if not active or "site" not in active:
        return None
    site = root / active["site"]
    return site if site.is_dir() else None


def _choose_site(argv: list[str], root: Path) -> Path | None:
    if ENV_VAR in os.environ:
        return Path(os.environ[ENV_VAR]) if os.environ[ENV_VAR] else None
    site = active_site(root)
    if site is None or any(flag in argv for flag in HEADLESS):
        return site
    pending = root / "launching.json"
    if (read_json(pending) or {}).get("site") == str(site):  # last GUI start never got a window
        (root / "active.json").replace(root / "active.failed.json")
        pending.unlink(missing_ok=True)
        os.environ[FELL_BACK] = "1"
        return None
    pending.write_text(json.dumps({"site": str(site)}), encoding="utf-8")
    return site


def mark_started(root: Path | None = None) -> None:
    """The window is up: this start with the GPU build worked (called by the GUI hook)."""
    (root or gpu_root()).joinpath("launching.json").unlink(missing_ok=True)


def prepare(argv: list[str]) -> list[str]:
    """Put the chosen torch first on ``sys.path``; return ``argv`` without ``--cpu``."""
    if "--cpu" in argv:
        argv = [arg for arg in argv if arg != "--cpu"]
        os.environ[ENV_VAR] = ""  # children (the self-test) inherit the choice
    site = _choose_site(argv, gpu_root())
    if site is not None:
        sys.path.insert(0, str(site))
        os.environ[ENV_VAR] = str(site)
    return argv


def probe() -> dict:
    """What torch this process got and whether it computes on the GPU (for the verifier)."""
    import torch

    found = {
        "torch_file": torch.__file__,
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "available": torch.cuda.is_available(),
    }
    if found["available"]:
        a = torch.arange(64.0).reshape(8, 8)
        found["device"] = torch.cuda.get_device_name(0)
        found["matmul_ok"] = bool(torch.allclose((a.cuda() @ a.cuda()).cpu(), a @ a))
    return found


def main(argv: list[str] | None = None) -> int:
    """The frozen executable: the app, ``--gpu-probe``, or ``--cli ARGS`` (``finescale-cli``)."""
    argv = prepare(list(sys.argv[1:] if argv is None else argv))
    if argv[:1] == ["--cli"]:
        from engine.cli.main import main as cli_main

        return cli_main(argv[1:])
    if argv == ["--gpu-probe"]:
        text = json.dumps(probe())
        out = os.environ.get(PROBE_OUT)
        if out:
            Path(out).write_text(text, encoding="utf-8")
        else:
            print(text)
        return 0
    from app.__main__ import main as app_main

    return app_main(argv)
