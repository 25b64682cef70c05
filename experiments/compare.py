"""Moved to `experiments.reports.compare`; this alias keeps old imports working (same module object)."""

import sys

from experiments.reports.compare import *  # noqa: F401,F403
import experiments.reports.compare as _moved

sys.modules[__name__] = _moved
