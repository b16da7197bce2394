"""`opfleet_executor`: run each step of a Dagster job as an opfleet step.

    from dagster import Definitions
    from dagster_opfleet import opfleet_executor

    defs = Definitions(jobs=[...], executor=opfleet_executor)

The run worker stays Dagster's: it plans, tails the event log and decides what runs next.
opfleet's workers execute the steps, with leases, fencing and crash re-runs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    Field,
    IntSource,
    Map,
    Noneable,
    StringSource,
    executor,
    multiple_process_executor_requirements,
)
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.execution.tags import get_tag_concurrency_limits_config
from dagster._core.executor.init import InitExecutorContext
from dagster._core.executor.step_delegating import StepDelegatingExecutor

from dagster_opfleet.bridge import BridgeConfig, OpfleetBridgeError
from dagster_opfleet.step_handler import OpfleetSettings, OpfleetStepHandler

OPFLEET_EXECUTOR_CONFIG: dict[str, Any] = {
    "opfleet_bin": Field(
        Noneable(StringSource),
        is_required=False,
        default_value=None,
        description="The opfleet binary. Default: $OPFLEET_BIN, else `opfleet` on PATH.",
    ),
    "database_url": Field(
        Noneable(StringSource),
        is_required=False,
        default_value=None,
        description="opfleet's PostgreSQL URL. Default: the bridge reads OPFLEET_DATABASE_URL."
        " Passed through the environment, never on the command line. Use {env: VAR}.",
    ),
    "sqs_endpoint": Field(
        Noneable(StringSource),
        is_required=False,
        default_value=None,
        description="SQS endpoint. Default: the bridge reads OPFLEET_SQS_ENDPOINT.",
    ),
    "queue_name": Field(
        Noneable(StringSource),
        is_required=False,
        default_value=None,
        description="opfleet's task queue. Default: the bridge reads OPFLEET_QUEUE_NAME.",
    ),
    "region": Field(
        Noneable(StringSource),
        is_required=False,
        default_value=None,
        description="AWS region. Default: the bridge reads OPFLEET_REGION / AWS_REGION.",
    ),
    "max_attempts": Field(
        IntSource,
        default_value=3,
        description="opfleet executions per Dagster step attempt: a worker crash re-runs the"
        " step under the same key up to this many times. Dagster's own retries (retry"
        " policies) are separate: each is a new opfleet step.",
    ),
    "step_timeout_s": Field(
        IntSource,
        default_value=86400,
        description="A step's process is stopped after this long and the step fails.",
    ),
    "tags": Field(
        Map(str, str),
        default_value={},
        description="Tags added to the opfleet run (e.g. team: data).",
    ),
    "poll_interval_s": Field(
        float,
        default_value=0.05,
        description="How often the executor reads the event log. Dagster's default (1 s)"
        " would dominate the overhead of a short step.",
    ),
    "health_check_interval_s": Field(
        int,
        default_value=1,
        description="How often the executor asks opfleet whether it gave up on a step.",
    ),
    "bridge_timeout_s": Field(
        float,
        default_value=30.0,
        description="How long one bridge call (or the bridge's start) may take before the"
        " run fails with the reason.",
    ),
    "retries": get_retries_config(),
    "max_concurrent": Field(
        Noneable(int),
        default_value=None,
        description="At most this many steps in opfleet at once (default: no limit).",
    ),
    "tag_concurrency_limits": get_tag_concurrency_limits_config(),
}


def default_opfleet_bin() -> str:
    return os.environ.get("OPFLEET_BIN") or shutil.which("opfleet") or "opfleet"


class OpfleetExecutor(StepDelegatingExecutor):
    """Dagster's step-delegating loop, plus closing the opfleet run when it ends."""

    def __init__(self, step_handler: OpfleetStepHandler, **kwargs: Any) -> None:
        super().__init__(step_handler, **kwargs)
        self._opfleet = step_handler

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        outcome = "failed"
        any_step_failed = False
        try:
            for event in super().execute(plan_context, execution_plan):
                if event.is_step_failure:
                    any_step_failed = True
                yield event
            outcome = "failed" if any_step_failed else "succeeded"
        except (DagsterExecutionInterruptedError, KeyboardInterrupt, GeneratorExit):
            outcome = "cancelled"
            raise
        finally:
            self._finish(plan_context, outcome)

    def _finish(self, plan_context: PlanOrchestrationContext, outcome: str) -> None:
        run_id = plan_context.run_id
        try:
            if outcome == "cancelled" and plan_context.instance.run_will_resume(run_id):
                # A resumed run worker carries on with the same opfleet run and its steps.
                return
            if not (self._opfleet.submitted_any or plan_context.resume_from_failure):
                return  # opfleet never saw this run
            self._opfleet.bridge.finish_run(run_id, outcome)
            DagsterEvent.engine_event(
                plan_context, f"opfleet run {run_id} closed as {outcome}", EngineEventData()
            )
        except OpfleetBridgeError as error:
            # Reported, not raised: the run's own outcome (or exception) is what matters.
            DagsterEvent.engine_event(
                plan_context,
                f"Could not close the opfleet run {run_id} as {outcome}: {error}",
                EngineEventData(),
            )
        finally:
            self._opfleet.bridge.close()


def executor_from_config(config: Mapping[str, Any]) -> OpfleetExecutor:
    settings = OpfleetSettings(
        bridge=BridgeConfig(
            opfleet_bin=config.get("opfleet_bin") or default_opfleet_bin(),
            database_url=config.get("database_url"),
            sqs_endpoint=config.get("sqs_endpoint"),
            queue_name=config.get("queue_name"),
            region=config.get("region"),
            timeout_s=float(config.get("bridge_timeout_s", 30.0)),
        ),
        max_attempts=int(config.get("max_attempts", 3)),
        step_timeout_s=int(config.get("step_timeout_s", 86400)),
        tags=dict(config.get("tags") or {}),
        health_check_interval_s=float(config.get("health_check_interval_s", 1)),
    )
    return OpfleetExecutor(
        OpfleetStepHandler(settings),
        retries=RetryMode.from_config(config.get("retries", {"enabled": {}})),
        sleep_seconds=float(config.get("poll_interval_s", 0.05)),
        check_step_health_interval_seconds=int(config.get("health_check_interval_s", 1)),
        max_concurrent=config.get("max_concurrent"),
        tag_concurrency_limits=config.get("tag_concurrency_limits"),
        # Dagster's step verification refuses to start a step that already has events. After
        # a worker crash opfleet runs the same step attempt again, and that re-run must run.
        should_verify_step=False,
    )


@executor(
    name="opfleet",
    config_schema=OPFLEET_EXECUTOR_CONFIG,
    requirements=multiple_process_executor_requirements(),
)
def opfleet_executor(init_context: InitExecutorContext) -> OpfleetExecutor:
    """Execute each step on opfleet's workers (via `opfleet dagster-bridge`).

    Configure it under `execution: config:` in run config, for example::

        execution:
          config:
            queue_name: opfleet-tasks.fifo
            max_attempts: 3
            tags: {team: data}
    """
    return executor_from_config(init_context.executor_config)
