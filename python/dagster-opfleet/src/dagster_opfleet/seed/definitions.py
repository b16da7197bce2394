"""The five seed jobs, their every-ten-minutes schedules, and the opfleet executor."""

from __future__ import annotations

import os

from dagster import DefaultScheduleStatus, Definitions, ScheduleDefinition, job

from dagster_opfleet.executor import opfleet_executor
from dagster_opfleet.seed.ops import aggregate, fast, process, slow
from dagster_opfleet.seed.timing import Timing


@job
def fast_job() -> None:
    process(fast())


@job
def slow_job() -> None:
    process(slow())


@job
def mixed_job() -> None:
    aggregate([fast(), slow()])


@job
def parallel_fast_job() -> None:
    for i in (1, 2, 3):
        process.alias(f"process_{i}")(fast.alias(f"fast_{i}")())


@job
def sequential_slow_job() -> None:
    first = slow.alias("slow_1")()
    aggregate([slow.alias("slow_2")(after=first)])


JOBS = [fast_job, slow_job, mixed_job, parallel_fast_job, sequential_slow_job]

# The seed triggers jobs every ten minutes. Schedules start stopped unless
# OPFLEET_SEED_SCHEDULES=running, so loading this location never starts work by surprise.
_SCHEDULE_STATUS = (
    DefaultScheduleStatus.RUNNING
    if os.environ.get("OPFLEET_SEED_SCHEDULES") == "running"
    else DefaultScheduleStatus.STOPPED
)

defs = Definitions(
    jobs=JOBS,
    schedules=[
        ScheduleDefinition(
            name=f"{seed_job.name}_every_10_minutes",
            job=seed_job,
            cron_schedule="*/10 * * * *",
            default_status=_SCHEDULE_STATUS,
        )
        for seed_job in JOBS
    ],
    resources={"timing": Timing()},
    executor=opfleet_executor,
)
