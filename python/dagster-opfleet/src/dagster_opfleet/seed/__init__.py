"""The seed system's jobs as a Dagster code location: `dagster_opfleet.seed`, `defs`.

The same shapes and durations as opfleet's built-in jobs (docs/jobs.md), as async Dagster
ops that `await asyncio.sleep`, executed by `opfleet_executor`. Scale every duration with
run config `resources: {timing: {config: {time_scale: 0.01}}}`.
"""

from dagster_opfleet.seed.definitions import defs

__all__ = ["defs"]
