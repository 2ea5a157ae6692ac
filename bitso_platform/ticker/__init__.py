"""Order-book capture: the Bitso client, the per-second spread sampler and a replay exchange.

Nothing here imports Dagster, so the long-running sampler starts fast and stays small.
"""
