"""Moved to `experiments.scoring.evaluate`; this alias keeps old imports working (same module object)."""

import sys

from experiments.scoring.evaluate import *  # noqa: F401,F403
import experiments.scoring.evaluate as _moved

sys.modules[__name__] = _moved
