"""The step host as a worker drives it: a real subprocess on fd 3 of a socketpair, running
real Dagster steps against a real (sqlite) DagsterInstance."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import dagster
from dagster import DagsterInstance
from dagster._core.events import DagsterEventType

from hostkit import (
    FAST_SCALE,
    SEED_MODULE,
    TESTJOBS,
    StepHost,
    create_run,
    event_types,
    execute_request,
    pid_alive,
    wait_for,
)

SEED = {"module": SEED_MODULE}
FILE = {"python_file": TESTJOBS}
HostFactory = Callable[..., StepHost]


def _long_run_request(
    instance: DagsterInstance, tmp_path: Path, seconds: float = 60
) -> tuple[str, dict[str, object], Path]:
    run = create_run(
        instance,
        FILE,
        "long_job",
        {"ops": {"long": {"config": {"seconds": seconds, "record_dir": str(tmp_path)}}}},
    )
    record = tmp_path / f"{run.run_id}.long"
    return run.run_id, execute_request(instance, run, "long", FILE), record


def _wait_started(record: Path) -> None:
    wait_for(lambda: record.exists() and "start" in record.read_text(), 60, "the op body")


def test_ready_names_the_host_and_dagster(step_host_factory: HostFactory) -> None:
    host = step_host_factory(f"module:{SEED_MODULE}", f"file:{TESTJOBS}")
    ready = host.read(120)
    assert ready == {"event": "ready", "pid": host.proc.pid, "dagster_version": dagster.__version__}
    assert "preloaded module:dagster_opfleet.seed (defs)" in host.stderr()


def test_executes_a_seed_step_to_success(
    instance: DagsterInstance, step_host_factory: HostFactory
) -> None:
    host = step_host_factory(f"module:{SEED_MODULE}")
    host.read(120)
    run = create_run(instance, SEED, "fast_job", FAST_SCALE)

    host.send({"id": 7, "execute": execute_request(instance, run, "fast", SEED)})
    started = host.read()
    assert started["id"] == 7
    assert started["event"] == "started"
    assert host.read() == {"id": 7, "event": "exited", "exit_code": 0}

    types = event_types(instance, run.run_id, "fast")
    assert DagsterEventType.STEP_START in types
    assert DagsterEventType.STEP_SUCCESS in types
    worker_started = [
        r.dagster_event
        for r in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_WORKER_STARTED)
        if r.dagster_event is not None
    ]
    # The step ran in the child the host announced, not in the host.
    assert worker_started[0].engine_event_data.metadata["pid"].value == str(started["pid"])


def test_the_host_shares_an_instance_but_holds_no_connection(
    instance: DagsterInstance, step_host_factory: HostFactory
) -> None:
    """After steps ran on the shared DagsterInstance, the host still has only its own
    descriptors: the worker link, its wakeup pipe, its epoll, its stdio."""
    host = step_host_factory(f"module:{SEED_MODULE}")
    host.read(120)
    for request_id in (1, 2):
        run = create_run(instance, SEED, "fast_job", FAST_SCALE)
        host.send({"id": request_id, "execute": execute_request(instance, run, "fast", SEED)})
        host.read()
        assert host.read()["exit_code"] == 0
    fd_dir = f"/proc/{host.proc.pid}/fd"
    targets = [os.readlink(f"{fd_dir}/{fd}") for fd in os.listdir(fd_dir)]
    assert len([t for t in targets if t.startswith("socket:")]) == 1, targets
    assert not [t for t in targets if t.endswith((".db", ".db-wal", ".sqlite"))], targets
    assert "not sharing" not in host.stderr()


def test_a_step_failure_is_a_clean_exit(
    instance: DagsterInstance, step_host_factory: HostFactory
) -> None:
    """A Dagster-level failure is Dagster's to retry (a new opfleet key): exit 0."""
    host = step_host_factory(f"file:{TESTJOBS}")
    host.read(120)
    run = create_run(instance, FILE, "failing_job")
    host.send({"id": 1, "execute": execute_request(instance, run, "always_fails", FILE)})
    assert host.read()["event"] == "started"
    assert host.read() == {"id": 1, "event": "exited", "exit_code": 0}
    types = event_types(instance, run.run_id, "always_fails")
    assert DagsterEventType.STEP_FAILURE in types or DagsterEventType.STEP_UP_FOR_RETRY in types


def test_steps_run_concurrently(
    instance: DagsterInstance, step_host_factory: HostFactory, tmp_path: Path
) -> None:
    host = step_host_factory(f"file:{TESTJOBS}")
    host.read(120)
    requests = [_long_run_request(instance, tmp_path, seconds=2) for _ in range(3)]
    began = time.monotonic()
    for request_id, (_, request, _) in enumerate(requests, start=1):
        host.send({"id": request_id, "execute": request})
    events = [host.read(60) for _ in range(6)]
    elapsed = time.monotonic() - began
    assert sorted(e["id"] for e in events if e["event"] == "started") == [1, 2, 3]
    assert [e for e in events if e["event"] == "exited"] == [
        {"id": e["id"], "event": "exited", "exit_code": 0} for e in events if e["event"] == "exited"
    ]
    # Each started precedes its exited, and three 2 s steps overlapped.
    for request_id in (1, 2, 3):
        kinds = [e["event"] for e in events if e["id"] == request_id]
        assert kinds == ["started", "exited"]
    assert elapsed < 5.5


def test_signal_ends_the_step_by_that_signal(
    instance: DagsterInstance, step_host_factory: HostFactory, tmp_path: Path
) -> None:
    host = step_host_factory(f"file:{TESTJOBS}")
    host.read(120)
    run_id, request, record = _long_run_request(instance, tmp_path)
    host.send({"id": 3, "execute": request})
    pid = host.read()["pid"]
    _wait_started(record)

    host.send({"id": 3, "signal": signal.SIGTERM})
    assert host.read(30) == {"id": 3, "event": "exited", "signal": signal.SIGTERM}
    assert not pid_alive(pid)
    # Dagster saw the interrupt: the step failed in its own event log, it did not vanish.
    assert DagsterEventType.STEP_FAILURE in event_types(instance, run_id, "long")
    assert "end" not in record.read_text()


def test_sigkill_and_signals_after_exit(
    instance: DagsterInstance, step_host_factory: HostFactory, tmp_path: Path
) -> None:
    host = step_host_factory(f"file:{TESTJOBS}")
    host.read(120)
    _, request, record = _long_run_request(instance, tmp_path)
    host.send({"id": 4, "execute": request})
    host.read()
    _wait_started(record)
    host.send({"id": 4, "signal": signal.SIGKILL})
    assert host.read(30) == {"id": 4, "event": "exited", "signal": signal.SIGKILL}
    # Reaped: a later signal for the id is ignored (its pid may be reused), the host lives on.
    host.send({"id": 4, "signal": signal.SIGKILL})
    host.send({"id": 5, "signal": 0})
    assert host.read() == {"id": 5, "event": "error", "message": "bad signal 0"}
    assert host.proc.poll() is None


def test_signal_reaches_the_steps_process_group(
    instance: DagsterInstance, step_host_factory: HostFactory, tmp_path: Path
) -> None:
    host = step_host_factory(f"file:{TESTJOBS}")
    host.read(120)
    _, request, record = _long_run_request(instance, tmp_path)
    host.send({"id": 6, "execute": request})
    pid = host.read()["pid"]
    _wait_started(record)
    assert os.getpgid(pid) == pid
    # The compute log manager's tail processes are in the step's group and die with it.
    members = [p for p in _pids() if _pgid(p) == pid and p != pid]
    host.send({"id": 6, "signal": signal.SIGKILL})
    host.read(30)
    wait_for(lambda: not any(pid_alive(p) for p in members), 10, "the step's subprocesses")


def test_eof_kills_every_child_and_exits(
    instance: DagsterInstance, step_host_factory: HostFactory, tmp_path: Path
) -> None:
    host = step_host_factory(f"file:{TESTJOBS}")
    host.read(120)
    pids = []
    for request_id in (1, 2):
        _, request, record = _long_run_request(instance, tmp_path)
        host.send({"id": request_id, "execute": request})
        pids.append(host.read()["pid"])
        _wait_started(record)
    assert all(pid_alive(pid) for pid in pids)
    assert host.close() == 0
    assert not any(pid_alive(pid) for pid in pids)


def test_a_request_for_another_code_location_is_refused(
    instance: DagsterInstance, step_host_factory: HostFactory, tmp_path: Path
) -> None:
    """The spec says the seed module, the run was loaded from testjobs.py: exit 3, no step."""
    host = step_host_factory(f"module:{SEED_MODULE}", f"file:{TESTJOBS}")
    host.read(120)
    run_id, request, record = _long_run_request(instance, tmp_path, seconds=1)
    request["code_location"] = SEED
    request["working_directory"] = None
    host.send({"id": 9, "execute": request})
    assert host.read()["event"] == "started"
    assert host.read() == {"id": 9, "event": "exited", "exit_code": 3}
    assert "refusing to run step long" in host.stderr()
    assert "was loaded from file:" in host.stderr()
    assert event_types(instance, run_id, "long") == []
    assert not record.exists()


def test_a_malformed_request_is_an_error_event(
    instance: DagsterInstance, step_host_factory: HostFactory, tmp_path: Path
) -> None:
    host = step_host_factory()
    host.read(120)
    _, request, _ = _long_run_request(instance, tmp_path, seconds=1)
    host.send({"id": 1, "execute": {**request, "code_location": {"module": "a", "package": "b"}}})
    assert host.read()["event"] == "error"
    host.send({"id": 2, "execute": {**request, "step_key": "other"}})
    error = host.read()
    assert error["event"] == "error"
    assert "not 'other'" in error["message"]
    host.send({"id": 3, "execute": {**request, "env": {"1BAD": "x"}}})
    assert host.read()["event"] == "error"
    host.send({"id": 4, "execute": {**request, "working_directory": "/nonexistent/dir"}})
    assert "not a directory" in host.read()["message"]
    host.send({"id": 5, "hello": True})
    assert host.read()["event"] == "error"
    assert host.proc.poll() is None


def test_a_rerun_is_recorded_in_the_event_log(
    instance: DagsterInstance, step_host_factory: HostFactory
) -> None:
    host = step_host_factory(f"module:{SEED_MODULE}")
    host.read(120)
    run = create_run(instance, SEED, "fast_job", FAST_SCALE)
    opfleet = {
        "key": f"{run.run_id}#fast.r0",
        "attempt": 2,
        "worker_id": "host/demo/1#3",
        "previous": {"worker_id": "host/demo/0#1", "pid": 4242, "outcome": "crashed"},
    }
    host.send({"id": 1, "execute": execute_request(instance, run, "fast", SEED, opfleet)})
    host.read()
    assert host.read()["exit_code"] == 0
    messages = [r.message for r in instance.all_logs(run.run_id) if r.step_key == "fast"]
    assert (
        "opfleet re-ran step fast on worker host/demo/1#3 (attempt 2): the previous execution"
        " on worker host/demo/0#1 pid 4242 ended crashed"
    ) in messages
    assert DagsterEventType.STEP_SUCCESS in event_types(instance, run.run_id, "fast")


def test_a_rerun_of_a_step_that_already_ended_does_not_run_it_again(
    instance: DagsterInstance, step_host_factory: HostFactory
) -> None:
    """The worker died after the step wrote STEP_SUCCESS but before opfleet recorded the
    end: the re-run must not give Dagster a second result for the same attempt."""
    host = step_host_factory(f"module:{SEED_MODULE}")
    host.read(120)
    run = create_run(instance, SEED, "fast_job", FAST_SCALE)
    host.send({"id": 1, "execute": execute_request(instance, run, "fast", SEED)})
    host.read()
    assert host.read()["exit_code"] == 0
    rerun = {"key": "k", "attempt": 2, "worker_id": "w2", "previous": {"worker_id": "w1"}}
    host.send({"id": 2, "execute": execute_request(instance, run, "fast", SEED, rerun)})
    host.read()
    assert host.read()["exit_code"] == 0
    types = event_types(instance, run.run_id, "fast")
    assert types.count(DagsterEventType.STEP_START) == 1
    assert types.count(DagsterEventType.STEP_SUCCESS) == 1
    messages = [r.message for r in instance.all_logs(run.run_id) if r.step_key == "fast"]
    assert (
        "opfleet did not run step fast again: its Dagster attempt already ended (STEP_SUCCESS)"
        " in the previous execution"
    ) in messages


def test_env_and_working_directory_apply_to_the_step(
    instance: DagsterInstance, step_host_factory: HostFactory, tmp_path: Path
) -> None:
    """A location in another directory, imported relative to its working directory."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "helper_mod.py").write_text("VALUE = 'from helper'\n")
    (project / "where.py").write_text(
        textwrap.dedent(
            """
            import os
            from dagster import Definitions, job, op
            import helper_mod

            @op
            def where() -> None:
                with open(os.environ["WHERE_OUT"], "w") as out:
                    out.write(f"{os.getcwd()}|{helper_mod.VALUE}|{os.environ['OPFLEET_TEST_MARK']}")

            @job
            def where_job() -> None:
                where()

            defs = Definitions(jobs=[where_job])
            """
        )
    )
    location = {"python_file": str(project / "where.py")}
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    recon = ReconstructableRepository.for_file(
        str(project / "where.py"), "defs", working_directory=str(project)
    ).get_reconstructable_job("where_job")
    from dagster._core.execution.api import create_execution_plan

    run = instance.create_run_for_job(
        job_def=recon.get_definition(),
        execution_plan=create_execution_plan(recon),
        job_code_origin=recon.get_python_origin(),
    )
    out = tmp_path / "where.out"
    request = execute_request(instance, run, "where", location)
    assert request["working_directory"] == str(project)
    request["env"] = {**request["env"], "WHERE_OUT": str(out)}
    host = step_host_factory()
    host.read(120)
    host.send({"id": 1, "execute": request})
    host.read()
    assert host.read(60)["exit_code"] == 0, host.stderr()
    assert out.read_text() == f"{project}|from helper|1"


def test_host_dies_with_its_worker(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: SIGKILL the process that started the host, the host follows."""
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import os, socket, subprocess, sys, time
                mine, theirs = socket.socketpair()
                fd = theirs.fileno()
                host = subprocess.Popen(
                    [sys.executable, "-m", "dagster_opfleet.step_host", "--fd", "3"],
                    close_fds=False, preexec_fn=lambda: os.dup2(fd, 3))
                mine.recv(4096)  # ready
                print(host.pid, flush=True)
                time.sleep(600)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    host_pid = int(worker.stdout.readline())
    assert pid_alive(host_pid)
    worker.kill()
    worker.wait()
    wait_for(lambda: not pid_alive(host_pid), 10, "the host to die with its worker")


def test_children_die_with_the_host(
    instance: DagsterInstance, step_host_factory: HostFactory, tmp_path: Path
) -> None:
    host = step_host_factory(f"file:{TESTJOBS}")
    host.read(120)
    _, request, record = _long_run_request(instance, tmp_path)
    host.send({"id": 1, "execute": request})
    child = host.read()["pid"]
    _wait_started(record)
    host.proc.kill()
    host.proc.wait()
    wait_for(lambda: not pid_alive(child), 10, "the step to die with its host")


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
