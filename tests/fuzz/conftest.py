"""Fuzzing in CI within a fixed budget (issue #24, item 5): a fixed seed and a fixed number of examples.

Profile `ci` (the default): derandomized (the same examples on every run, so a failure reproduces), no
example database, no deadline (the machine is shared), `max_examples` per test chosen so that the whole
folder runs in about two minutes on 2 cores. `HYPOTHESIS_PROFILE=deep` runs ten times as many examples
locally (still derandomized), `HYPOTHESIS_PROFILE=explore` as many with a random seed (to look for new failures;
add what it finds as explicit `@example`s). At the end of the session a summary line gives the examples tried per test.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from fuzz_helpers import ACCEPTED, COUNTS, MAX_EXAMPLES

_COMMON = dict(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
)
settings.register_profile("ci", max_examples=MAX_EXAMPLES, **_COMMON)
settings.register_profile("deep", max_examples=MAX_EXAMPLES * 10, **_COMMON)
settings.register_profile("explore", max_examples=MAX_EXAMPLES * 10, **{**_COMMON, "derandomize": False})  # new seeds
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not COUNTS:
        return
    total = sum(COUNTS.values())
    terminalreporter.section("fuzzing: examples tried")
    terminalreporter.write_line(" tried  accepted  test  (accepted: a valid object, exit 0 or a 2xx; the rest were refused cleanly)")
    for name, count in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{count:6d}  {ACCEPTED[name]:8d}  {name}")
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    seed = "a random seed" if profile == "explore" else "derandomized: a fixed seed"
    terminalreporter.write_line(f"fuzz: {total} examples tried in {len(COUNTS)} tests (profile {profile}, {seed})")
