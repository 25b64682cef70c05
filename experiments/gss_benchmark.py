"""Moved to `experiments.faithfulness.gss_benchmark`; this alias keeps old imports working (same module object)."""

import sys

from experiments.faithfulness.gss_benchmark import *  # noqa: F401,F403
import experiments.faithfulness.gss_benchmark as _moved

sys.modules[__name__] = _moved
