"""Moved to `experiments.scoring.metrics`; this alias keeps old imports working (same module object)."""

import sys

from experiments.scoring.metrics import *  # noqa: F401,F403
import experiments.scoring.metrics as _moved

sys.modules[__name__] = _moved
