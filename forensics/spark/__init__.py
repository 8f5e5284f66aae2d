"""The Spark engine of `forensics cluster` (``--engine spark``; needs the spark extra and Java 17).

Spark does the distribution and the shuffles (reading the store's events, repartitioning by
account, cross-account group-bys and joins); per-account logic runs inside Spark tasks
through the local engine's own Polars/NumPy functions, so both engines agree by
construction. The graph, ring scoring and evidence run locally on what Spark produced.
Nothing here imports pyspark at import time: the extra is optional.
"""
