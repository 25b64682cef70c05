"""The leakage rules live in `experiments.scoring.leakage` (scoring's reference predictors need them too);
re-exported here for the benchmark."""

from experiments.scoring.leakage import (  # noqa: F401
    DATA,
    DEMOGRAPHIC_FIELD_ITEMS,
    KNOWN_PAIRS,
    allowed_demographic_fields,
    closed_set,
    exclusions,
    near_duplicate_pairs,
    near_duplicates,
)
