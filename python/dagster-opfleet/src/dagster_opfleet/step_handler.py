"""`OpfleetStepHandler`: Dagster's StepDelegatingExecutor hands each step to opfleet.

A launched step becomes one opfleet step (kind `dagster`) through the bridge; opfleet's
workers claim it, run it with `dagster_opfleet.step_host`, and re-run it when a worker dies.
The step's own events reach Dagster through the event log, as with every step-delegating
executor; the handler only submits, watches for opfleet giving up, and cancels.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from dagster._core.definitions.metadata import MetadataValue
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
from dagster._core.executor.step_delegating.step_handler.base import (
    CheckStepHealthResult,
    StepHandler,
    StepHandlerContext,
)
from dagster._core.storage.dagster_run import DagsterRun
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import serialize_value

from dagster_opfleet._execute import retry_number
from dagster_opfleet._location import CodeLocation, pointer_working_directory
from dagster_opfleet.bridge import Bridge, BridgeConfig, OpfleetBridgeError, StepState

KEY_METADATA = "opfleet_key"
RETRY_METADATA = "opfleet_retry"
_GIVEN_UP = ("failed", "unknown", "cancelled")
# A step process writes its Dagster events before it exits, and the executor reads them
# within a poll interval; a step still being checked this long after opfleet saw it succeed
# ended without a result Dagster can see (and would otherwise keep the run waiting forever).
FINISHED_GRACE_S = 30.0


@dataclass(frozen=True)
class OpfleetSettings:
    bridge: BridgeConfig
    max_attempts: int = 3
    step_timeout_s: int = 86400
    tags: Mapping[str, str] = field(default_factory=dict)
    health_check_interval_s: float = 1.0


def build_op_spec(
    *,
    run: DagsterRun,
    args: ExecuteStepArgs,
    step_key: str,
    timeout_s: int,
    environ: Mapping[str, str],
    cwd: str,
) -> dict[str, object]:
    """The op spec of a Dagster step (docs/dagster-protocol.md §2)."""
    origin = run.job_code_origin
    if origin is None:
        raise DagsterInvariantViolationError(
            f"run {run.run_id} has no code origin: opfleet cannot tell its workers what to load"
        )
    pointer = origin.repository_origin.code_pointer
    env = {"DAGSTER_HOME": environ["DAGSTER_HOME"]} if environ.get("DAGSTER_HOME") else {}
    return {
        "kind": "dagster",
        "step_key": step_key,
        "code_location": CodeLocation.from_pointer(pointer, cwd).to_json(),
        "working_directory": pointer_working_directory(pointer),
        "env": env,
        "execute_step_args": serialize_value(args),
        "timeout_s": timeout_s,
    }


def describe_given_up(step_key: str, key: str, state: StepState | None) -> str:
    """Why a step is unhealthy, in words an operator can act on."""
    if state is None or state.status == "unknown":
        return f"opfleet has no record of step {step_key} (key {key})"
    if state.status == "cancelled":
        what = "opfleet cancelled it"
    else:
        what = f"opfleet gave up after {state.attempt} of {state.max_attempts} attempts"
    reason = f"step {step_key} (key {key}): {what}"
    if state.error:
        reason += f": {state.error}"
    if state.attempts:
        reason += "; attempts: " + ", ".join(
            f"#{a.attempt} on {a.worker_id or 'unknown worker'}"
            f" pid {a.pid if a.pid is not None else '?'} {a.outcome or 'unfinished'}"
            for a in state.attempts
        )
    return reason


def _single_step_key(context: StepHandlerContext) -> str:
    keys = context.execute_step_args.step_keys_to_execute
    if not keys or len(keys) != 1:
        raise DagsterInvariantViolationError(f"opfleet launches one step at a time, not {keys!r}")
    return keys[0]


class OpfleetStepHandler(StepHandler):
    def __init__(self, settings: OpfleetSettings, bridge: Bridge | None = None) -> None:
        self._settings = settings
        self._bridge = bridge if bridge is not None else Bridge(settings.bridge)
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, int], str] = {}
        self._open_keys: set[str] = set()  # submitted, not yet seen in a final state
        self._states: dict[str, StepState] = {}
        self._states_at = 0.0
        self._succeeded_at: dict[str, float] = {}
        self.submitted_any = False

    @property
    def name(self) -> str:
        return "OpfleetStepHandler"

    @property
    def bridge(self) -> Bridge:
        return self._bridge

    def launch_step(self, step_handler_context: StepHandlerContext) -> Iterator[DagsterEvent]:
        step_key = _single_step_key(step_handler_context)
        args = step_handler_context.execute_step_args
        run = step_handler_context.dagster_run
        # Part of the opfleet key: a Dagster retry is a new opfleet step, while opfleet's
        # own re-runs of a crashed execution keep the key.
        retry = retry_number(args, step_key)
        op = build_op_spec(
            run=run,
            args=args,
            step_key=step_key,
            timeout_s=self._settings.step_timeout_s,
            environ=os.environ,
            cwd=os.getcwd(),
        )
        submitted = self._bridge.submit_step(
            dagster_run_id=run.run_id,
            job=run.job_name,
            step_key=step_key,
            retry=retry,
            max_attempts=self._settings.max_attempts,
            tags=self._settings.tags,
            op=op,
        )
        with self._lock:
            self._keys[(step_key, retry)] = submitted.key
            self._open_keys.add(submitted.key)
            self.submitted_any = True
        info = self._bridge.info
        queue = info.queue_url if info is not None and info.queue_url else ""
        yield DagsterEvent.engine_event(
            step_handler_context.get_step_context(step_key),
            f"Step {step_key} submitted to opfleet as key {submitted.key}",
            EngineEventData(
                metadata={
                    KEY_METADATA: MetadataValue.text(submitted.key),
                    RETRY_METADATA: MetadataValue.int(retry),
                    "opfleet_queue": MetadataValue.text(queue),
                    "opfleet_status": MetadataValue.text(submitted.status),
                    "opfleet_created": MetadataValue.bool(submitted.created),
                }
            ),
        )

    def check_step_health(self, step_handler_context: StepHandlerContext) -> CheckStepHealthResult:
        step_key = _single_step_key(step_handler_context)
        key = self._key_of(step_handler_context, step_key)
        if key is None:
            return CheckStepHealthResult.unhealthy(
                f"step {step_key} was never submitted to opfleet in this run"
            )
        state = self._state_of(key)
        # opfleet re-runs crashed executions itself, so queued/running/succeeded are all
        # healthy: only a step it will never run again is unhealthy. `cancelled` counts too:
        # a step cancelled outside this run's termination would otherwise wait forever.
        if state is None or state.status in _GIVEN_UP:
            return CheckStepHealthResult.unhealthy(describe_given_up(step_key, key, state))
        if state.status == "succeeded":
            with self._lock:
                since = self._succeeded_at.setdefault(key, time.monotonic())
            if time.monotonic() - since > FINISHED_GRACE_S:
                return CheckStepHealthResult.unhealthy(
                    f"step {step_key} (key {key}): its opfleet execution ended successfully"
                    f" {FINISHED_GRACE_S:g} s ago but Dagster recorded no result for it"
                )
        return CheckStepHealthResult.healthy()

    def terminate_step(self, step_handler_context: StepHandlerContext) -> Iterator[DagsterEvent]:
        step_key = _single_step_key(step_handler_context)
        step_context = step_handler_context.get_step_context(step_key)
        key = self._key_of(step_handler_context, step_key)
        if key is None:
            yield DagsterEvent.engine_event(
                step_context,
                f"Step {step_key} has no opfleet key: nothing to stop",
                EngineEventData(),
            )
            return
        run_id = step_handler_context.execute_step_args.run_id
        try:
            result = self._bridge.cancel_steps([key], reason=f"Dagster run {run_id} terminated")
        except OpfleetBridgeError as error:
            # The executor terminates every running step in turn: one failed cancel must not
            # keep the others running.
            yield DagsterEvent.engine_event(
                step_context,
                f"Could not ask opfleet to stop step {step_key} (key {key}): {error}",
                EngineEventData(metadata={KEY_METADATA: MetadataValue.text(key)}),
            )
            return
        yield DagsterEvent.engine_event(
            step_context,
            f"Asked opfleet to stop step {step_key} (key {key}):"
            f" {result.cancelled} queued cancelled, {result.signalled} running signalled",
            EngineEventData(metadata={KEY_METADATA: MetadataValue.text(key)}),
        )

    # -- keys and states ----------------------------------------------------------------

    def _key_of(self, context: StepHandlerContext, step_key: str) -> str | None:
        retry = retry_number(context.execute_step_args, step_key)
        with self._lock:
            key = self._keys.get((step_key, retry))
        if key is None:
            # A resumed run checks steps the previous run worker launched: their keys are in
            # the event log, on the "submitted to opfleet" event.
            key = _key_from_event_log(context, step_key, retry)
            if key is not None:
                with self._lock:
                    self._keys[(step_key, retry)] = key
                    self._open_keys.add(key)
        return key

    def _state_of(self, key: str) -> StepState | None:
        """The step's state, from one batched step_status call per health-check round:
        the executor checks every running step in a row, so one call answers them all."""
        max_age = self._settings.health_check_interval_s / 2
        with self._lock:
            fresh = time.monotonic() - self._states_at < max_age
            if fresh and key in self._states:
                return self._states[key]
            keys = sorted(self._open_keys | {key})
        states = self._bridge.step_status(keys)
        with self._lock:
            self._states = states
            self._states_at = time.monotonic()
            for done, state in states.items():
                if state.status in ("succeeded", "failed", "cancelled"):
                    self._open_keys.discard(done)
        return states.get(key)


def _key_from_event_log(context: StepHandlerContext, step_key: str, retry: int) -> str | None:
    records = context.instance.all_logs(
        context.execute_step_args.run_id, of_type=DagsterEventType.ENGINE_EVENT
    )
    found: str | None = None
    for record in records:
        event = record.dagster_event
        if event is None or event.step_key != step_key:
            continue
        metadata = event.engine_event_data.metadata
        key_value = metadata.get(KEY_METADATA)
        retry_value = metadata.get(RETRY_METADATA)
        if key_value is not None and retry_value is not None and retry_value.value == retry:
            found = str(key_value.value)
    return found
