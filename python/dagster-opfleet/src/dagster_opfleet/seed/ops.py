"""The seed's ops. `fast` and `slow` are the seed's own; `process` and `aggregate` stand for
the short downstream work of its jobs (1 ± 0.5 s)."""

# No `from __future__ import annotations`: Dagster reads these annotations as objects.

import asyncio

from dagster import In, Nothing, OpExecutionContext, op

from dagster_opfleet.seed.timing import Timing

FAST_S = (20.0, 10.0)
SLOW_S = (300.0, 120.0)
SHORT_S = (1.0, 0.5)


async def _sleep(
    context: OpExecutionContext, timing: Timing, mean_jitter: tuple[float, float]
) -> float:
    seconds = timing.duration_s(*mean_jitter)
    context.log.info(f"sleeping {seconds:.3f} s")
    await asyncio.sleep(seconds)
    return seconds


@op(ins={"after": In(Nothing)})
async def fast(context: OpExecutionContext, timing: Timing) -> float:
    """20 ± 10 s."""
    return await _sleep(context, timing, FAST_S)


@op(ins={"after": In(Nothing)})
async def slow(context: OpExecutionContext, timing: Timing) -> float:
    """5 ± 2 min."""
    return await _sleep(context, timing, SLOW_S)


@op
async def process(context: OpExecutionContext, timing: Timing, upstream: float) -> float:
    """1 ± 0.5 s after one upstream op."""
    return upstream + await _sleep(context, timing, SHORT_S)


@op
async def aggregate(context: OpExecutionContext, timing: Timing, upstream: list[float]) -> float:
    """1 ± 0.5 s after all its upstream ops (a fan-in)."""
    return sum(upstream) + await _sleep(context, timing, SHORT_S)
