"""A job of the code location as a deployment's run worker executes a launched run."""

from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository


def launched_job(name: str) -> ReconstructableJob:
    """The job, reconstructable from its module: `dg.execute_job` runs it on the job's own
    executor with the run config it is given, as `dagster api execute_run` does."""
    return ReconstructableRepository.for_module(
        "bitso_platform.definitions", "defs", working_directory=None
    ).get_reconstructable_job(name)
