"""Entry point of the frozen app (PyInstaller needs a script, not ``-m app``).

It goes through ``app.gpu_env.startup`` so that an enabled GPU build's torch is put on
``sys.path`` before anything imports torch (``--cpu`` starts with the bundled CPU torch).
"""

import sys

from app.gpu_env.startup import main

if __name__ == "__main__":
    sys.exit(main())
