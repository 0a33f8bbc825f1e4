"""``python -m app.gpu_env [app arguments]``: start the app the way the frozen build does."""

import sys

from app.gpu_env.startup import main

sys.exit(main())
