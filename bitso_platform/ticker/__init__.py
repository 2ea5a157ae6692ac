"""Order-book capture: the Bitso client, the per-second spread sampler and spread alerts.

Nothing here imports Dagster, so the long-running sampler starts fast and stays small.
"""
