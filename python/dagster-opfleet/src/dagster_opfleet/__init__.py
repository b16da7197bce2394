"""Run every op of a Dagster job on the opfleet fleet.

`opfleet_executor` is the executor to set on a job or `Definitions`; the rest is the
machinery behind it. Exports are loaded on first use so that `python -m
dagster_opfleet.step_host` can arm its death signal before Dagster is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.3.0"

_EXPORTS = {
    "opfleet_executor": "dagster_opfleet.executor",
    "OpfleetExecutor": "dagster_opfleet.executor",
    "OpfleetStepHandler": "dagster_opfleet.step_handler",
    "Bridge": "dagster_opfleet.bridge",
    "BridgeConfig": "dagster_opfleet.bridge",
    "OpfleetBridgeError": "dagster_opfleet.bridge",
}

__all__ = [
    "Bridge",
    "BridgeConfig",
    "OpfleetBridgeError",
    "OpfleetExecutor",
    "OpfleetStepHandler",
    "__version__",
    "opfleet_executor",
]

if TYPE_CHECKING:
    from dagster_opfleet.bridge import Bridge, BridgeConfig, OpfleetBridgeError
    from dagster_opfleet.executor import OpfleetExecutor, opfleet_executor
    from dagster_opfleet.step_handler import OpfleetStepHandler


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dagster_opfleet' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
