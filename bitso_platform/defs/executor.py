"""How every run of the code location executes: all its steps in the run's own process.

Each step is a call into Postgres or S3. On Dagster's default (multiprocess) executor every
step first starts a process that imports Dagster and this code location, about 2 s here,
and the marts' blocking checks chain their steps anyway: launched as a deployment runs it,
one day of every mart took 39 s on the default executor against 2.4 s in one process at
scale 10, and a full backfill 195 s against 176 s (docs/benchmarks.md, "Executor"). The
snapshot load needs one process: its files and core are one transaction.
"""

import dagster as dg


@dg.definitions
def executor() -> dg.Definitions:
    return dg.Definitions(executor=dg.in_process_executor)
