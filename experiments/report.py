"""Moved to `experiments.reports.report`; this alias keeps old imports working (same module object)."""

import sys

from experiments.reports.report import *  # noqa: F401,F403
import experiments.reports.report as _moved

sys.modules[__name__] = _moved
