"""Execute one Dagster step in the current process, as `dagster api execute_step` does.

Shared by the warm step host (in a forked child) and the cold path (`step_run`). The caller
has already set up the process's lifetime (death signal, process group); this module
applies the request's environment, checks that the run really belongs to the requested code
location, notes an opfleet re-run in the run's event log, and runs the step.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from dagster._cli.api import _execute_step_command_body
from dagster._cli.utils import _inject_local_env_file, get_instance_for_cli
from dagster._core.definitions.metadata import MetadataValue
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEventType, EngineEventData
from dagster._core.instance import DagsterInstance
from dagster._core.storage.dagster_run import DagsterRun, RunsFilter
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import deserialize_value
from dagster._utils.interrupts import capture_interrupts

from dagster_opfleet._location import CodeLocation, CodeLocationError, pointer_working_directory

EXIT_OK = 0
"""The Dagster step ran to its own end (STEP_SUCCESS or STEP_FAILURE is in the event log)."""
EXIT_RAISED = 1
"""The step machinery raised: a failed execution, which opfleet may retry."""
EXIT_BAD_REQUEST = 2
"""The cold path could not read a valid request from stdin."""
EXIT_WRONG_LOCATION = 3
"""The request does not match the run's own code origin: refused, nothing ran."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MAX_ENV = 64


class RequestError(ValueError):
    """An `execute` request that does not follow docs/dagster-protocol.md §3."""


@dataclass(frozen=True)
class PreviousExecution:
    worker_id: str | None
    pid: int | None
    outcome: str | None


@dataclass(frozen=True)
class OpfleetExecution:
    key: str
    attempt: int
    worker_id: str | None
    previous: PreviousExecution | None


@dataclass(frozen=True)
class ExecuteRequest:
    execute_step_args: str
    step_key: str
    code_location: CodeLocation
    working_directory: str | None
    env: Mapping[str, str] = field(default_factory=dict)
    opfleet: OpfleetExecution = OpfleetExecution(key="", attempt=1, worker_id=None, previous=None)

    @staticmethod
    def from_json(raw: object) -> ExecuteRequest:
        if not isinstance(raw, Mapping):
            raise RequestError(f"execute must be an object, not {type(raw).__name__}")
        args = raw.get("execute_step_args")
        if not isinstance(args, str) or not args:
            raise RequestError("execute.execute_step_args must be a non-empty string")
        step_key = raw.get("step_key")
        if not isinstance(step_key, str) or not step_key:
            raise RequestError("execute.step_key must be a non-empty string")
        try:
            location = CodeLocation.from_json(raw.get("code_location"))
        except CodeLocationError as error:
            raise RequestError(f"execute.{error}") from None
        working_directory = raw.get("working_directory")
        if working_directory is not None and (
            not isinstance(working_directory, str) or not os.path.isabs(working_directory)
        ):
            raise RequestError("execute.working_directory must be an absolute path or null")
        return ExecuteRequest(
            execute_step_args=args,
            step_key=step_key,
            code_location=location,
            working_directory=os.path.normpath(working_directory) if working_directory else None,
            env=_parse_env(raw.get("env")),
            opfleet=_parse_opfleet(raw.get("opfleet")),
        )


def _parse_env(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise RequestError("execute.env must be an object")
    if len(raw) > _MAX_ENV:
        raise RequestError(f"execute.env has {len(raw)} variables; at most {_MAX_ENV} allowed")
    env: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise RequestError(f"execute.env: {name!r} is not a valid variable name")
        if not isinstance(value, str) or "\0" in value:
            raise RequestError(f"execute.env.{name} must be a string without NUL")
        env[name] = value
    return env


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse_opfleet(raw: object) -> OpfleetExecution:
    if raw is None:
        return OpfleetExecution(key="", attempt=1, worker_id=None, previous=None)
    if not isinstance(raw, Mapping):
        raise RequestError("execute.opfleet must be an object")
    previous_raw = raw.get("previous")
    previous = (
        PreviousExecution(
            worker_id=_opt_str(previous_raw.get("worker_id")),
            pid=_opt_int(previous_raw.get("pid")),
            outcome=_opt_str(previous_raw.get("outcome")),
        )
        if isinstance(previous_raw, Mapping)
        else None
    )
    return OpfleetExecution(
        key=_opt_str(raw.get("key")) or "",
        attempt=_opt_int(raw.get("attempt")) or 1,
        worker_id=_opt_str(raw.get("worker_id")),
        previous=previous,
    )


def apply_environment(request: ExecuteRequest) -> None:
    os.environ.update(request.env)
    if request.working_directory:
        os.chdir(request.working_directory)
        # Dagster puts a code location's working directory first on sys.path when it loads
        # one; the step's own relative imports expect the same.
        if sys.path[:1] != [request.working_directory]:
            sys.path.insert(0, request.working_directory)


def check_code_location(run: DagsterRun, request: ExecuteRequest) -> str | None:
    """Why the run's own code origin does not match the request, or None when it does.

    The op spec lives in opfleet's tables, the run in Dagster's: a spec naming an
    allow-listed location must not run a step whose run was loaded from somewhere else.
    """
    origin = run.job_code_origin
    if origin is None:
        return f"run {run.run_id} has no code origin"
    pointer = origin.repository_origin.code_pointer
    try:
        actual = CodeLocation.from_pointer(pointer, os.getcwd())
    except CodeLocationError as error:
        return str(error)
    if actual != request.code_location:
        return (
            f"the request names code location {request.code_location.describe()} but run"
            f" {run.run_id} was loaded from {actual.describe()}"
        )
    expected_dir = pointer_working_directory(pointer)
    if expected_dir != request.working_directory:
        return (
            f"the request's working directory {request.working_directory!r} is not run"
            f" {run.run_id}'s ({expected_dir!r})"
        )
    return None


def report_rerun(instance: DagsterInstance, run: DagsterRun, request: ExecuteRequest) -> None:
    """Put an opfleet re-run (attempt > 1, e.g. after a worker crash) in the run's event log,
    so the Dagster UI says why the step started again."""
    opfleet = request.opfleet
    previous = opfleet.previous
    if previous is not None:
        ended = (
            f"the previous execution on worker {previous.worker_id or 'unknown'}"
            f" pid {previous.pid if previous.pid is not None else 'unknown'}"
            f" ended {previous.outcome or 'without a recorded outcome'}"
        )
    else:
        ended = "opfleet recorded no previous execution"
    message = (
        f"opfleet re-ran step {request.step_key} on worker {opfleet.worker_id or 'unknown'}"
        f" (attempt {opfleet.attempt}): {ended}"
    )
    metadata: dict[str, MetadataValue] = {
        "opfleet_key": MetadataValue.text(opfleet.key),
        "opfleet_attempt": MetadataValue.int(opfleet.attempt),
        "opfleet_worker": MetadataValue.text(opfleet.worker_id or ""),
        "pid": MetadataValue.int(os.getpid()),
    }
    if previous is not None:
        metadata["previous_worker"] = MetadataValue.text(previous.worker_id or "")
        metadata["previous_pid"] = MetadataValue.text(str(previous.pid))
        metadata["previous_outcome"] = MetadataValue.text(previous.outcome or "")
    instance.report_engine_event(
        message, run, EngineEventData(metadata=metadata), step_key=request.step_key
    )


def load_args(request: ExecuteRequest) -> ExecuteStepArgs:
    """The request's ExecuteStepArgs, checked to run exactly the requested step."""
    try:
        args = deserialize_value(request.execute_step_args, ExecuteStepArgs)
    except Exception as error:  # noqa: BLE001 - any decoding failure is a bad request
        raise RequestError(f"execute.execute_step_args cannot be read: {error}") from None
    if list(args.step_keys_to_execute or ()) != [request.step_key]:
        raise RequestError(
            f"execute.execute_step_args runs steps {args.step_keys_to_execute!r},"
            f" not {request.step_key!r}"
        )
    return args


@contextmanager
def _instance(args: ExecuteStepArgs, cached: DagsterInstance | None) -> Iterator[DagsterInstance]:
    if cached is None:
        with get_instance_for_cli(instance_ref=args.instance_ref) as instance:
            yield instance
        return
    # What get_instance_for_cli does around the instance it creates: the working directory's
    # .env is in the environment while the step runs.
    with _inject_local_env_file(logging.getLogger("dagster")):
        yield cached


def retry_number(args: ExecuteStepArgs, step_key: str) -> int:
    """Dagster's retry of the step (0 for its first attempt)."""
    if args.known_state is None:
        return 0
    return args.known_state.get_retry_state().get_attempt_count(step_key)


_ENDED = {
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_UP_FOR_RETRY,
    DagsterEventType.STEP_SKIPPED,
}


def ended_already(
    instance: DagsterInstance, run: DagsterRun, step_key: str, retry: int
) -> DagsterEventType | None:
    """How this Dagster attempt of the step ended, if an earlier execution got that far.

    A worker can die after the step wrote its result but before opfleet recorded the
    execution's end; running it again would record a second result for the same attempt
    (which Dagster's executor refuses: the step is no longer in flight).
    """
    records = instance.get_records_for_run(run.run_id, of_type=_ENDED).records
    ends = [
        record.event_log_entry.dagster_event.event_type
        for record in records
        if record.event_log_entry.dagster_event is not None
        and record.event_log_entry.step_key == step_key
    ]
    return ends[retry] if len(ends) > retry else None


def _execute(request: ExecuteRequest, args: ExecuteStepArgs, cached: DagsterInstance | None) -> int:
    # Interrupts (SIGINT, and SIGTERM mapped to it) are held until Dagster's own checkpoints,
    # exactly like the `dagster api execute_step` command.
    with capture_interrupts(), _instance(args, cached) as instance:
        # get_runs, not get_run_by_id: the same run, without the column reflection that
        # get_run_by_id does on every call (~15 ms with PostgreSQL).
        runs = instance.get_runs(filters=RunsFilter(run_ids=[args.run_id]), limit=1)
        run = runs[0] if runs else None
        if run is None:
            print(f"opfleet: Dagster run {args.run_id} not found", file=sys.stderr)
            return EXIT_RAISED
        mismatch = check_code_location(run, request)
        if mismatch is not None:
            print(
                f"opfleet: refusing to run step {request.step_key}: {mismatch}",
                file=sys.stderr,
            )
            return EXIT_WRONG_LOCATION
        if request.opfleet.attempt > 1:
            report_rerun(instance, run, request)
            ended = ended_already(
                instance, run, request.step_key, retry_number(args, request.step_key)
            )
            if ended is not None:
                instance.report_engine_event(
                    f"opfleet did not run step {request.step_key} again: its Dagster attempt"
                    f" already ended ({ended.value}) in the previous execution",
                    run,
                    step_key=request.step_key,
                )
                return EXIT_OK
        # No public Dagster API executes a step from ExecuteStepArgs; this is the body of
        # `dagster api execute_step`, so a step runs here exactly as it would there.
        for _event in _execute_step_command_body(args, instance, run):
            pass
    return EXIT_OK


class _SignalLog:
    """Which signals reached Python handlers, read back from a wakeup pipe.

    Dagster turns SIGTERM/SIGINT into an exception, losing the signal number; the wakeup
    fd still records it, so the process can end by that signal and the worker sees how the
    execution really ended.
    """

    def __init__(self) -> None:
        self._read, write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(write, False)
        self._write = write
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)

    def last_interrupt(self) -> int | None:
        """The last SIGINT or SIGTERM received, if any."""
        try:
            data = os.read(self._read, 4096)
        except BlockingIOError:
            return None
        interrupts = [sig for sig in data if sig in (signal.SIGINT, signal.SIGTERM)]
        return interrupts[-1] if interrupts else None


def run_step(
    request: ExecuteRequest,
    args: ExecuteStepArgs | None = None,
    instance: DagsterInstance | None = None,
) -> int:
    """Run the step; the process's exit status: >= 0 an exit code, < 0 minus a signal.

    `args` and `instance` are what the step host already built before forking (the instance
    only when it was proven to hold no connection); otherwise they are made here.
    """
    signals = _SignalLog()
    try:
        apply_environment(request)
        if args is None:
            try:
                args = load_args(request)
            except RequestError as error:
                print(f"opfleet: refusing to run: {error}", file=sys.stderr)
                return EXIT_WRONG_LOCATION
        return _execute(request, args, instance)
    except (KeyboardInterrupt, DagsterExecutionInterruptedError):
        traceback.print_exc()
        sig = signals.last_interrupt()
        return -sig if sig else EXIT_RAISED
    except BaseException:  # noqa: BLE001 - anything else is a failed execution for opfleet
        traceback.print_exc()
        return EXIT_RAISED


def exit_now(status: int) -> None:
    """End the process with `status` (from run_step) without running the host's cleanup."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if status < 0:
        signal.set_wakeup_fd(-1)
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        status = 128 - status
    os._exit(status)
