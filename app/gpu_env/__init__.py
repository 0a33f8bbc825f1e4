"""GPU acceleration for installed (frozen) copies, with no terminal and no Qt.

The installers ship CPU torch. This package finds an NVIDIA driver, picks the CUDA build of torch
that driver and GPU can run, installs its pinned wheels (downloaded with resume and sha256 checks,
or taken from a folder the user brings) into a managed folder beside the user's data, proves it by
running the app's self-test in it, and makes the next start import torch from there. The Qt
dialog that drives it is ``app/dialogs/gpu_dialog.py``; how the frozen bundle and the managed
folder share ``sys.path`` is written down in ``installers/README.md``.
"""

from __future__ import annotations


class GpuEnvError(Exception):
    """A failure the user can act on; the message is one plain sentence (shown as is)."""
