"""Per-account and cross-account features (lazy Polars over the store's events).

``compute_account_features`` builds the one-row-per-account table that ``forensics cluster``
writes to ``STORE/features/accounts.parquet``; ``population_contrast`` says how a ring's
accounts differ from everyone else's; ``FEATURE_LABELS`` names each column for humans.
"""

from forensics.features.catalog import FEATURE_LABELS, FEATURE_SCHEMA, FEATURES
from forensics.features.compute import (
    AccountFeatures,
    FeatureParams,
    account_features,
    compute_account_features,
)
from forensics.features.contrast import population_contrast
from forensics.features.network import subnet16, subnet24
from forensics.features.text import asks_for_reasoning, prompt_skeleton

__all__ = [
    "FEATURES",
    "AccountFeatures",
    "FEATURE_LABELS",
    "FEATURE_SCHEMA",
    "FeatureParams",
    "account_features",
    "asks_for_reasoning",
    "compute_account_features",
    "population_contrast",
    "prompt_skeleton",
    "subnet16",
    "subnet24",
]
