"""Jobs for tests and benchmarks, as a python_file code location (`defs`).

- fan_out_fan_in_job: a dynamic fan-out (step keys like `work[item_2]`, which opfleet must
  sanitise) and a fan-in.
- zero_job (run config n) and zero_200_job: ops that do nothing, for the per-step overhead.
- long_job: one op that sleeps (default 10 s) and records each execution, for crash tests.
- flaky_job / failing_job: an op with a Dagster RetryPolicy that fails its first attempts,
  or every attempt.
- stamp_job: an op that writes the wall-clock time its body starts (start-up latency).
"""

# No `from __future__ import annotations`: Dagster reads op annotations as objects.

import os
import time
from collections.abc import Iterator

from dagster import (
    Config,
    Definitions,
    DynamicOut,
    DynamicOutput,
    Failure,
    OpExecutionContext,
    RetryPolicy,
    job,
    op,
)

from dagster_opfleet import opfleet_executor


class FanOutConfig(Config):
    n: int = 4


@op(out=DynamicOut(int))
def items(config: FanOutConfig) -> Iterator[DynamicOutput[int]]:
    for i in range(config.n):
        yield DynamicOutput(i, mapping_key=f"item_{i}")


@op
def work(value: int) -> int:
    return value * value


@op
def total(values: list[int]) -> int:
    return sum(values)


@job
def fan_out_fan_in_job() -> None:
    total(items().map(work).collect())


@op
def noop(value: int) -> int:
    return value


@op
def done(values: list[int]) -> int:
    return len(values)


@job
def zero_job() -> None:
    """n + 2 steps (n from run config `ops: {items: {config: {n: 200}}}`)."""
    done(items().map(noop).collect())


@op
def nothing() -> None:
    return None


@job
def zero_200_job() -> None:
    for i in range(200):
        nothing.alias(f"nothing_{i:03d}")()


class LongConfig(Config):
    seconds: float = 10.0
    record_dir: str = ""


@op
def long(context: OpExecutionContext, config: LongConfig) -> float:
    """Sleeps; with record_dir, appends `start <pid>` / `end <pid>` to a file per run, so a
    crash test can count executions."""
    record = (
        os.path.join(config.record_dir, f"{context.run_id}.{context.op.name}")
        if config.record_dir
        else None
    )

    def note(what: str) -> None:
        if record:
            with open(record, "a") as out:
                out.write(f"{what} {os.getpid()} {time.time():.6f}\n")

    note("start")
    time.sleep(config.seconds)
    note("end")
    return config.seconds


@job
def long_job() -> None:
    long()


class FlakyConfig(Config):
    fail_attempts: int = 2


@op(retry_policy=RetryPolicy(max_retries=3))
def flaky(context: OpExecutionContext, config: FlakyConfig) -> int:
    if context.retry_number < config.fail_attempts:
        raise Failure(f"failing attempt {context.retry_number + 1} on purpose")
    return context.retry_number


@job
def flaky_job() -> None:
    flaky()


@op(retry_policy=RetryPolicy(max_retries=1))
def always_fails() -> None:
    raise Failure("this op always fails")


@job
def failing_job() -> None:
    always_fails()


class StampConfig(Config):
    path: str


@op
def stamp(config: StampConfig) -> None:
    started = time.time()
    with open(config.path, "w") as out:
        out.write(f"{started:.6f} {os.getpid()}\n")


@job
def stamp_job() -> None:
    stamp()


defs = Definitions(
    jobs=[
        fan_out_fan_in_job,
        zero_job,
        zero_200_job,
        long_job,
        flaky_job,
        failing_job,
        stamp_job,
    ],
    executor=opfleet_executor,
)
