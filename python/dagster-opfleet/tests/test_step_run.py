"""The cold path: `python -m dagster_opfleet.step_run`, the execute object on stdin."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from dagster import DagsterInstance
from dagster._core.events import DagsterEventType

from hostkit import (
    FAST_SCALE,
    SEED_MODULE,
    TESTJOBS,
    create_run,
    event_types,
    execute_request,
    wait_for,
)

STEP_RUN = [sys.executable, "-m", "dagster_opfleet.step_run"]


def _run(request: Any, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        STEP_RUN,
        input=json.dumps(request) + "\n",
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_runs_a_step_from_the_execute_object(instance: DagsterInstance) -> None:
    location = {"module": SEED_MODULE}
    run = create_run(instance, location, "fast_job", FAST_SCALE)
    done = _run(execute_request(instance, run, "fast", location))
    assert done.returncode == 0, done.stderr
    assert DagsterEventType.STEP_SUCCESS in event_types(instance, run.run_id, "fast")


def test_accepts_the_hosts_whole_message(instance: DagsterInstance) -> None:
    location = {"module": SEED_MODULE}
    run = create_run(instance, location, "fast_job", FAST_SCALE)
    done = _run({"id": 1, "execute": execute_request(instance, run, "fast", location)})
    assert done.returncode == 0, done.stderr


def test_an_unreadable_request_exits_2() -> None:
    done = _run({"execute_step_args": "not serdes", "step_key": "x", "code_location": {}})
    assert done.returncode == 2
    assert "cannot read the execute request" in done.stderr


def test_another_code_location_exits_3(instance: DagsterInstance) -> None:
    location = {"python_file": TESTJOBS}
    run = create_run(instance, location, "failing_job")
    request = execute_request(instance, run, "always_fails", location)
    request["code_location"] = {"module": SEED_MODULE}
    request["working_directory"] = None
    done = _run(request)
    assert done.returncode == 3
    assert "refusing to run step always_fails" in done.stderr
    assert event_types(instance, run.run_id, "always_fails") == []


def test_sigterm_ends_it_by_sigterm_after_dagster_records_the_interrupt(
    instance: DagsterInstance, tmp_path: Path
) -> None:
    location = {"python_file": TESTJOBS}
    run = create_run(
        instance,
        location,
        "long_job",
        {"ops": {"long": {"config": {"seconds": 60, "record_dir": str(tmp_path)}}}},
    )
    record = tmp_path / f"{run.run_id}.long"
    proc = subprocess.Popen(
        STEP_RUN, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(execute_request(instance, run, "long", location)).encode() + b"\n")
    proc.stdin.close()
    wait_for(record.exists, 120, "the op body")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert DagsterEventType.STEP_FAILURE in event_types(instance, run.run_id, "long")
