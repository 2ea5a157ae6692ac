"""How every run of the code location executes its steps: in its own process, or a long
backfill's steps two at a time.

Each step is a call into Postgres or S3. Dagster's multiprocess executor first starts a
process per step that imports Dagster and this code location, and the marts' blocking checks
chain their steps: launched as a deployment runs it, one day of every mart took 39 s that way
against 2.4 s in one process at scale 10 (docs/benchmarks.md, "Executor"). So one day, the
snapshot load (its files and core are one transaction) and every other run execute their
steps in the run's own process.

A backfill of many days is another matter: each mart's step then runs for minutes in one
Postgres process on one core, and the marts that do not read each other (daily_logins beside
the movements' chain, daily_balances beside daily_user_status) can run side by side. A run
over at least `parallel_from_days` days executes its steps in processes of their own,
`max_concurrent` at a time (default: the machine's cores), forked from a server that has
imported the code location once. Of the steps ready together, the one that starts the longest
chain of the run's steps still to come goes first (`by_longest_chain`): the chain is what the
run cannot finish before, so a step on it never waits behind a step that nothing follows.

The run's process reads its steps' events round-robin, waiting up to Dagster's
`child_process_executor.TICK` (20 ms) on each step with nothing to say. A range run's step
reports one event per day (1,331 materializations or check evaluations for a full backfill),
so while one step reports and another works quietly, each event cost that wait: 27 s at 20 ms,
2.7 s at 2 ms, at the end of every step before the run moved on. Such a run waits
`POLL_SECONDS` only when the poll before found nothing (`poll_without_waiting_after_an_event`),
and vacuums the marts at its end (`_vacuum_marts`). Measurements: docs/benchmarks.md,
"Reading the steps' events, nothing to look up before the first day, pages left unmarked" and
"Steps by the longest chain of the run, events read as they come".
"""

import os
from collections.abc import Iterator
from graphlib import TopologicalSorter
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue

import dagster as dg
import psycopg
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.executor import child_process_executor
from dagster._core.executor.base import Executor
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.executor.multiprocess import MultiprocessExecutor
from dagster._core.storage.tags import PRIORITY_TAG

from bitso_platform.defs.marts.partitions import run_days

PARALLEL_FROM_DAYS = 28
# The longest wait on a quiet step's events: polling costs the waiting run's process about 3 %
# of a core (20 ms: 1 %).
POLL_SECONDS = 0.002
# Imported once by the fork server, not by every step's process: the code location, its
# resources (dagster-aws) and the marts' modules, about 2 s of imports.
PRELOADED = (
    "bitso_platform.definitions",
    "bitso_platform.defs.resources",
    "bitso_platform.defs.marts.assets",
    "bitso_platform.defs.marts.checks",
)


class InProcessOrParallel(Executor):
    """Every step in the run's process, or, for a run over many days, several at a time in
    processes of their own (when the run can be rebuilt in them: a launched run can)."""

    def __init__(self, max_concurrent: int, parallel_from_days: int) -> None:
        self.in_process = InProcessExecutor(retries=RetryMode.ENABLED)
        self.parallel = MultiprocessExecutor(
            retries=RetryMode.ENABLED,
            max_concurrent=max_concurrent,
            start_method="forkserver",
            explicit_forkserver_preload=list(PRELOADED),
        )
        self.parallel_from_days = parallel_from_days

    @property
    def retries(self) -> RetryMode:
        return RetryMode.ENABLED

    def chosen(self, plan_context: PlanOrchestrationContext) -> Executor:
        in_parallel = (
            run_days(plan_context.dagster_run.tags) >= self.parallel_from_days
            and isinstance(plan_context.job, ReconstructableJob)
            and not plan_context.instance.is_ephemeral
        )
        return self.parallel if in_parallel else self.in_process

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        if self.chosen(plan_context) is self.in_process:
            return self.in_process.execute(plan_context, execution_plan)
        child_process_executor.TICK = POLL_SECONDS  # read by each poll of a step's events
        child_process_executor._poll_for_event = poll_without_waiting_after_an_event
        return self._side_by_side(plan_context, execution_plan)

    def _side_by_side(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        yield from self.parallel.execute(plan_context, by_longest_chain(execution_plan))
        yield from _vacuum_marts(plan_context)


dagster_poll = child_process_executor._poll_for_event


def poll_without_waiting_after_an_event(
    process: BaseProcess, event_queue: Queue
) -> DagsterEvent | str | None:
    """Dagster's poll of one step's events, which waits up to `TICK` when there is none; after
    a poll that brought an event, the next poll (of any step) does not wait, so a step that
    reports its days is read at the pace it sends, not one event per wait on a quiet step."""
    event = dagster_poll(process, event_queue)
    child_process_executor.TICK = 0 if event is not None else POLL_SECONDS
    return event


def by_longest_chain(plan: ExecutionPlan) -> ExecutionPlan:
    """The plan with each step to execute prioritised by the longest chain of the run's steps
    it starts (itself, a step waiting on it, one waiting on that, ...), for the executor's
    choice among ready steps (`dagster/priority`).

    Counted in steps, from what this run executes: in a backfill of the questions' marts,
    `deposit_ordinals` (its checks, then `daily_kpis`' checks, which read it) goes before
    `daily_kpis`, whose readers (the features) are not in the run; a mart's static count of
    readers put it after (docs/benchmarks.md, "Steps by the longest chain of the run, events
    read as they come").
    """
    keys = set(plan.step_keys_to_execute)
    waits_on = {
        key: plan.get_step_by_key(key).get_execution_dependency_keys() & keys for key in keys
    }
    chains: dict[str, int] = {}
    for key in reversed(tuple(TopologicalSorter(waits_on).static_order())):
        waiting = [chains[other] for other, deps in waits_on.items() if key in deps]
        chains[key] = 1 + max(waiting, default=0)
    steps = {
        handle: step._replace(tags={**step.tags, PRIORITY_TAG: str(chains[step.key])})
        if step.key in chains
        else step
        for handle, step in plan.step_dict.items()
    }
    return plan._replace(
        step_dict=steps, step_dict_by_key={step.key: step for step in steps.values()}
    )


def _vacuum_marts(plan_context: PlanOrchestrationContext) -> Iterator[DagsterEvent]:
    """Once every step is done, VACUUM the marts whose rows are not yet marked all-visible.

    Each mart's step vacuums its table after its build, but a step beside it holds a
    transaction open, and VACUUM cannot mark rows newer than it: after a side-by-side
    backfill no page of any mart was all-visible, and the questions' index-only scans read
    the heap (Q2's SQL 2.4 s instead of 0.7 s at scale 100) until autovacuum came by.
    """
    job = plan_context.job.get_definition()
    if "warehouse" not in job.resource_defs:
        return
    configured = plan_context.run_config.get("resources", {}).get("warehouse")
    config = {"warehouse": configured} if configured else None
    try:
        with dg.build_resources(
            {"warehouse": job.resource_defs["warehouse"]}, resource_config=config
        ) as resources:
            vacuumed = resources.warehouse.vacuum_held_back("marts")
    except psycopg.Error as error:
        message = f"marts not vacuumed after the run ({error}); autovacuum will mark them"
        yield DagsterEvent.engine_event(plan_context, message, EngineEventData())
        return
    for table, visible, pages in vacuumed:
        message = f"vacuumed marts.{table} after the run: {visible:,} of {pages:,} pages visible"
        yield DagsterEvent.engine_event(plan_context, message, EngineEventData())


@dg.executor(
    name="in_process_or_parallel",
    config_schema={
        "max_concurrent": dg.Field(
            int,
            default_value=0,
            description="Steps at a time in a run over many days (0: the machine's cores).",
        ),
        "parallel_from_days": dg.Field(
            int,
            default_value=PARALLEL_FROM_DAYS,
            description="A run over at least this many days (2 or more) runs its steps side "
            "by side.",
        ),
    },
)
def in_process_or_parallel(init_context: dg.InitExecutorContext) -> Executor:
    config = init_context.executor_config
    if int(config["parallel_from_days"]) < 2:
        raise dg.DagsterInvalidConfigError(
            "parallel_from_days must be 2 or more: a run of one day (or of no partition, as the "
            "snapshot load) executes its steps in its own process",
            [],
            config,
        )
    return InProcessOrParallel(
        max_concurrent=int(config["max_concurrent"]) or os.cpu_count() or 1,
        parallel_from_days=int(config["parallel_from_days"]),
    )


@dg.definitions
def executor() -> dg.Definitions:
    return dg.Definitions(executor=in_process_or_parallel)
