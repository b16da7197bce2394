"""Drive real Dagster runs and a real step host the way an opfleet worker does: shared by
the tests and benchmarks/step_host_latency.py."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import DagsterInstance
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.events import DagsterEventType
from dagster._core.execution.api import create_execution_plan
from dagster._core.execution.plan.state import KnownExecutionState
from dagster._core.execution.retries import RetryMode
from dagster._core.storage.dagster_run import DagsterRun
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import serialize_value

from dagster_opfleet._location import pointer_working_directory

TESTS = Path(__file__).resolve().parent
TESTJOBS = str(TESTS / "locations" / "testjobs.py")
SEED_MODULE = "dagster_opfleet.seed"
FAST_SCALE = {"resources": {"timing": {"config": {"time_scale": 0.0005}}}}


def repository(location: Mapping[str, str]) -> ReconstructableRepository:
    if "module" in location:
        return ReconstructableRepository.for_module(location["module"], "defs")
    return ReconstructableRepository.for_file(location["python_file"], "defs")


def create_run(
    instance: DagsterInstance,
    location: Mapping[str, str],
    job_name: str,
    run_config: Mapping[str, Any] | None = None,
) -> DagsterRun:
    """A run as a Dagster run launcher creates it: with the job's code origin."""
    recon_job = repository(location).get_reconstructable_job(job_name)
    plan = create_execution_plan(recon_job, run_config=run_config or {})
    return instance.create_run_for_job(
        job_def=recon_job.get_definition(),
        execution_plan=plan,
        run_config=run_config or {},
        job_code_origin=recon_job.get_python_origin(),
    )


def execute_request(
    instance: DagsterInstance,
    run: DagsterRun,
    step_key: str,
    location: Mapping[str, str],
    opfleet: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `execute` object a worker sends for one step of `run`."""
    assert run.job_code_origin is not None
    pointer = run.job_code_origin.repository_origin.code_pointer
    args = ExecuteStepArgs(
        job_origin=run.job_code_origin,
        run_id=run.run_id,
        step_keys_to_execute=[step_key],
        instance_ref=instance.get_ref(),
        retry_mode=RetryMode.DISABLED,
        known_state=KnownExecutionState(),
        should_verify_step=False,
        print_serialized_events=False,
    )
    return {
        "execute_step_args": serialize_value(args),
        "env": {"DAGSTER_HOME": os.environ["DAGSTER_HOME"], "OPFLEET_TEST_MARK": "1"},
        "working_directory": pointer_working_directory(pointer),
        "code_location": dict(location),
        "step_key": step_key,
        "opfleet": dict(opfleet or {"key": f"{run.run_id}#{step_key}.r0", "attempt": 1}),
    }


def event_types(instance: DagsterInstance, run_id: str, step_key: str) -> list[DagsterEventType]:
    return [
        record.dagster_event.event_type
        for record in instance.all_logs(run_id)
        if record.dagster_event is not None and record.dagster_event.step_key == step_key
    ]


def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class StepHost:
    """`python -m dagster_opfleet.step_host --fd 3`, its fd 3 one end of a socketpair."""

    def __init__(
        self, tmp_path: Path, preloads: list[str], extra_args: tuple[str, ...] = ()
    ) -> None:
        self.link, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.stderr_path = tmp_path / "step_host.stderr"
        child_fd = child_end.fileno()
        argv = [sys.executable, "-m", "dagster_opfleet.step_host", "--fd", "3"]
        for preload in preloads:
            argv += ["--preload", preload]
        argv += extra_args
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                close_fds=False,
                preexec_fn=lambda: os.dup2(child_fd, 3),  # noqa: PLW1509 - test only
            )
        child_end.close()
        self._buffer = b""

    def send(self, message: Mapping[str, Any]) -> float:
        data = json.dumps(message).encode() + b"\n"
        sent_at = time.time()
        self.link.sendall(data)
        return sent_at

    def read(self, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no event from the step host in {timeout_s} s; {self.stderr()}"
                )
            readable, _, _ = select.select([self.link], [], [], remaining)
            if readable:
                chunk = self.link.recv(65536)
                if not chunk:
                    raise AssertionError(f"step host closed its link; {self.stderr()}")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        event: dict[str, Any] = json.loads(line)
        return event

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> int:
        self.link.close()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
