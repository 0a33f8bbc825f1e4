"""Where model files live on this machine; environment variables are read at call time.

Two places hold checkpoints: the Hugging Face hub cache (shared with other tools; ``HF_HOME`` /
``HF_HUB_CACHE`` honoured) and Finescale's own data folder (``FINESCALE_DATA_DIR`` or the platform
data dir) where imported files are hard-linked or copied to ``models/<id>/``. Tests and the GUI
settings change the variables after import, so nothing here is cached.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from engine.runtime.cancel import UserFacingError
from engine.store.resources import resources_dir


def _env_path(name: str) -> str | None:
    value = os.environ.get(name)
    return os.path.expanduser(os.path.expandvars(value)) if value else None


def data_dir() -> Path:
    """Finescale's per-user data folder (models, index); ``FINESCALE_DATA_DIR`` overrides it."""
    override = _env_path("FINESCALE_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return Path(base) / "Finescale"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Finescale"
    return Path(_env_path("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "finescale"


def models_dir() -> Path:
    return data_dir() / "models"


def index_path() -> Path:
    return models_dir() / "index.json"


def hub_cache_dir() -> Path:
    """The hub cache as huggingface_hub would pick it if it were imported right now."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = _env_path(name)
        if value:
            return Path(value)
    home = _env_path("HF_HOME")
    if not home:
        xdg = _env_path("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(xdg, "huggingface")
    return Path(home) / "hub"


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` (or the legacy ``TRANSFORMERS_OFFLINE``) as set now or at hub import."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return True
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def demo_dir() -> Path:
    """The demo model shipped with the app (``FINESCALE_DEMO_DIR`` overrides, for tests/builds)."""
    override = _env_path("FINESCALE_DEMO_DIR")
    return Path(override) if override else resources_dir() / "models" / "demo"


def repo_folder(repo_id: str) -> Path:
    """``models--org--name``: the hub cache's folder for a model repository."""
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


# --------------------------------------------------------------------------------------------


def require_space(folder: Path, needed: int, what: str) -> None:
    """Refuse, before writing, a file of ``needed`` bytes that ``folder``'s disk cannot hold;
    ``what`` starts the sentence ("VAR.pth: copying it", "the T5 encoder")."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise UserFacingError(
            f"{what}: not enough disk space in {folder} "
            f"({needed / 1e9:.2f} GB needed, {free / 1e9:.2f} GB free)."
        )
