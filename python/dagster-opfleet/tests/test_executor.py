"""Real Dagster runs through `opfleet_executor`, its bridge being tests/loopback_bridge.py
(which runs each submitted step with the real cold path, `dagster_opfleet.step_run`).

What these pin is the Dagster side of the contract: what is submitted (keys, retries, op
specs), that a step opfleet gives up on fails the Dagster step, that the opfleet run is
closed with the run's outcome, and that a bridge that cannot start fails the run with its
reason. The real binary's side is covered by the end-to-end tests.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, execute_job
from dagster._core.events import DagsterEventType

from dagster_opfleet import step_handler
from hostkit import FAST_SCALE, SEED_MODULE, TESTJOBS, repository, wait_for

LOOPBACK = Path(__file__).resolve().parent / "loopback_bridge.py"


@pytest.fixture
def loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    binary = tmp_path / "opfleet"
    binary.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{LOOPBACK}" "$@"\n')
    binary.chmod(0o755)
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("LOOPBACK_LOG", str(log))
    return str(binary), log


def _requests(log: Path, method: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return [r["params"] for r in lines if r["method"] == method]


def _execution(binary: str, **extra: Any) -> dict[str, Any]:
    return {"execution": {"config": {"opfleet_bin": binary, **extra}}}


def test_a_seed_job_runs_step_by_step_through_opfleet(
    instance: DagsterInstance, loopback: tuple[str, Path]
) -> None:
    binary, log = loopback
    recon = repository({"module": SEED_MODULE}).get_reconstructable_job("mixed_job")
    config = {**FAST_SCALE, **_execution(binary, tags={"team": "data"}, max_attempts=5)}
    with execute_job(recon, instance, run_config=config) as result:
        assert result.success
        run_id = result.run_id

    submits = _requests(log, "submit_step")
    assert sorted(s["step_key"] for s in submits) == ["aggregate", "fast", "slow"]
    for submit in submits:
        assert submit["dagster_run_id"] == run_id
        assert submit["job"] == "mixed_job"
        assert submit["retry"] == 0
        assert submit["max_attempts"] == 5
        assert submit["tags"] == {"team": "data"}
        assert submit["op"]["kind"] == "dagster"
        assert submit["op"]["code_location"] == {"module": SEED_MODULE}
        assert submit["op"]["timeout_s"] == 86400
    # aggregate is submitted only once both upstream steps succeeded
    assert submits[-1]["step_key"] == "aggregate"
    assert _requests(log, "finish_run") == [{"dagster_run_id": run_id, "status": "succeeded"}]

    submitted = {
        r.step_key: r.dagster_event.engine_event_data.metadata["opfleet_key"].value
        for r in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
        if r.dagster_event is not None and "submitted to opfleet" in r.message
    }
    assert submitted == {
        "fast": f"{run_id}#fast.r0",
        "slow": f"{run_id}#slow.r0",
        "aggregate": f"{run_id}#aggregate.r0",
    }


def test_dagster_retries_are_new_opfleet_steps(
    instance: DagsterInstance, loopback: tuple[str, Path]
) -> None:
    binary, log = loopback
    recon = repository({"python_file": TESTJOBS}).get_reconstructable_job("flaky_job")
    config = {"ops": {"flaky": {"config": {"fail_attempts": 2}}}, **_execution(binary)}
    with execute_job(recon, instance, run_config=config) as result:
        assert result.success
    assert [(s["step_key"], s["retry"]) for s in _requests(log, "submit_step")] == [
        ("flaky", 0),
        ("flaky", 1),
        ("flaky", 2),
    ]
    assert _requests(log, "finish_run")[0]["status"] == "succeeded"


def test_a_dynamic_fan_out_submits_every_mapped_step(
    instance: DagsterInstance, loopback: tuple[str, Path]
) -> None:
    binary, log = loopback
    recon = repository({"python_file": TESTJOBS}).get_reconstructable_job("fan_out_fan_in_job")
    config = {"ops": {"items": {"config": {"n": 3}}}, **_execution(binary)}
    with execute_job(recon, instance, run_config=config) as result:
        assert result.success
        assert result.output_for_node("total") == 0 + 1 + 4
    assert sorted(s["step_key"] for s in _requests(log, "submit_step")) == [
        "items",
        "total",
        "work[item_0]",
        "work[item_1]",
        "work[item_2]",
    ]


def test_a_failed_step_fails_the_run_and_closes_it_failed(
    instance: DagsterInstance, loopback: tuple[str, Path]
) -> None:
    binary, log = loopback
    recon = repository({"python_file": TESTJOBS}).get_reconstructable_job("failing_job")
    with execute_job(recon, instance, run_config=_execution(binary)) as result:
        assert not result.success
    assert [s["retry"] for s in _requests(log, "submit_step")] == [0, 1]
    assert _requests(log, "finish_run")[0]["status"] == "failed"


def test_a_step_opfleet_gave_up_on_fails_with_the_reason(
    instance: DagsterInstance, loopback: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    binary, log = loopback
    monkeypatch.setenv("LOOPBACK_GIVE_UP", "fast")
    recon = repository({"module": SEED_MODULE}).get_reconstructable_job("fast_job")
    with execute_job(recon, instance, run_config={**FAST_SCALE, **_execution(binary)}) as result:
        assert not result.success
        failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert [f.step_key for f in failures] == ["fast"]
    message = failures[0].step_failure_data.error.message  # type: ignore[union-attr]
    assert "failed health check" in message
    assert "opfleet gave up after 1 of 3 attempts: loopback gave up on purpose" in message
    assert "#1 on loopback/1 pid 1 crashed" in message
    assert [s["step_key"] for s in _requests(log, "submit_step")] == ["fast"]
    assert _requests(log, "finish_run")[0]["status"] == "failed"


def test_a_step_that_ended_without_a_dagster_result_fails_after_a_grace(
    instance: DagsterInstance, loopback: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    binary, _ = loopback
    monkeypatch.setenv("LOOPBACK_SKIP", "fast")
    monkeypatch.setattr(step_handler, "FINISHED_GRACE_S", 0.5)
    recon = repository({"module": SEED_MODULE}).get_reconstructable_job("fast_job")
    with execute_job(recon, instance, run_config={**FAST_SCALE, **_execution(binary)}) as result:
        assert not result.success
        failure = next(
            e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE
        )
    assert failure.step_key == "fast"
    message = failure.step_failure_data.error.message  # type: ignore[union-attr]
    assert "ended successfully 0.5 s ago but Dagster recorded no result" in message


def test_a_bridge_that_cannot_start_fails_the_run_with_its_reason(
    instance: DagsterInstance, tmp_path: Path
) -> None:
    binary = tmp_path / "opfleet"
    binary.write_text(
        "#!/bin/sh\n"
        'echo \'{"ready": false, "error": "cannot reach SQS at http://nowhere:4566"}\'\n'
        "exit 69\n"
    )
    binary.chmod(0o755)
    recon = repository({"module": SEED_MODULE}).get_reconstructable_job("fast_job")
    with execute_job(
        recon, instance, run_config={**FAST_SCALE, **_execution(str(binary))}
    ) as result:
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE)
    error = failure.job_failure_data.error
    assert error is not None
    assert "opfleet dagster-bridge is not ready: cannot reach SQS at http://nowhere:4566" in (
        error.message
    )


def test_terminating_a_run_cancels_its_steps_and_closes_it_cancelled(
    instance: DagsterInstance, loopback: tuple[str, Path], tmp_path: Path
) -> None:
    """`dagster job execute` interrupted (SIGINT, as when a run is terminated): the executor
    forwards the termination to opfleet and closes the run as cancelled."""
    binary, log = loopback
    config = tmp_path / "run.yaml"
    config.write_text(
        json.dumps(
            {
                "ops": {"long": {"config": {"seconds": 120, "record_dir": str(tmp_path)}}},
                **_execution(binary),
            }
        )
    )
    command = [sys.executable, "-m", "dagster", "job", "execute", "-f", TESTJOBS]
    proc = subprocess.Popen(
        [*command, "-j", "long_job", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: any(tmp_path.glob("*.long")), 120, "the step to start")
        record = next(tmp_path.glob("*.long"))
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_id = record.name.split(".")[0]
    key = f"{run_id}#long.r0"
    assert _requests(log, "cancel_steps") == [
        {"keys": [key], "reason": f"Dagster run {run_id} terminated"}
    ]
    assert _requests(log, "finish_run") == [{"dagster_run_id": run_id, "status": "cancelled"}]
    assert "end" not in record.read_text()
