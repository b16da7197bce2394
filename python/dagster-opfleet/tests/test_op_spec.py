"""What the step handler sends opfleet: code locations, op specs, retry numbers, reasons,
and the executor's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._config import process_config
from dagster._core.code_pointer import CodePointer, CustomPointer, ModuleCodePointer
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.plan.state import KnownExecutionState
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import deserialize_value

from dagster_opfleet._execute import retry_number
from dagster_opfleet._location import CodeLocation, CodeLocationError
from dagster_opfleet.bridge import AttemptRecord, StepState
from dagster_opfleet.executor import OpfleetExecutor, executor_from_config, opfleet_executor
from dagster_opfleet.step_handler import build_op_spec, describe_given_up
from hostkit import SEED_MODULE, TESTJOBS, create_run, execute_request


def test_locations_from_pointers() -> None:
    module = CodePointer.from_module("pkg.defs", "defs", "/srv/project")
    assert isinstance(module, ModuleCodePointer)
    package = CodePointer.from_python_package("pkg", "defs", None)
    absolute = CodePointer.from_python_file("/srv/project/defs.py", "defs", None)
    relative = CodePointer.from_python_file("sub/../defs.py", "defs", "/elsewhere")
    assert CodeLocation.from_pointer(module, "/cwd").to_json() == {"module": "pkg.defs"}
    assert CodeLocation.from_pointer(package, "/cwd").to_json() == {"package": "pkg"}
    assert CodeLocation.from_pointer(absolute, "/cwd").describe() == "file:/srv/project/defs.py"
    # Relative to the loading process's directory, as Dagster's loader resolves it.
    assert CodeLocation.from_pointer(relative, "/cwd").name == "/cwd/defs.py"
    with pytest.raises(CodeLocationError, match="CustomPointer"):
        CodeLocation.from_pointer(CustomPointer(module, [], []), "/cwd")


def test_locations_from_preloads_and_json() -> None:
    assert CodeLocation.from_preload("module:a.b") == CodeLocation("module", "a.b")
    assert CodeLocation.from_preload("package:a") == CodeLocation("package", "a")
    assert CodeLocation.from_preload("file:/x/../y.py") == CodeLocation("python_file", "/y.py")
    for bad in ("a.b", "module:", "file:rel.py", "zip:a"):
        with pytest.raises(CodeLocationError):
            CodeLocation.from_preload(bad)
    assert CodeLocation.from_json({"python_file": "/y.py"}) == CodeLocation("python_file", "/y.py")
    bad_jsons: list[object] = [{}, {"module": "a", "package": "b"}, {"file": "/y.py"}, []]
    for bad_json in [*bad_jsons, {"module": ""}]:
        with pytest.raises(CodeLocationError):
            CodeLocation.from_json(bad_json)


def test_op_spec_of_a_module_step(instance: DagsterInstance) -> None:
    run = create_run(instance, {"module": SEED_MODULE}, "fast_job")
    args = deserialize_value(
        str(execute_request(instance, run, "fast", {"module": SEED_MODULE})["execute_step_args"]),
        ExecuteStepArgs,
    )
    spec = build_op_spec(
        run=run,
        args=args,
        step_key="fast",
        timeout_s=600,
        environ={"DAGSTER_HOME": "/srv/dagster", "SECRET": "no"},
        cwd="/srv",
    )
    assert spec["kind"] == "dagster"
    assert spec["step_key"] == "fast"
    assert spec["code_location"] == {"module": SEED_MODULE}
    assert spec["env"] == {"DAGSTER_HOME": "/srv/dagster"}  # never the rest of the environment
    assert spec["timeout_s"] == 600
    assert deserialize_value(str(spec["execute_step_args"]), ExecuteStepArgs) == args


def test_op_spec_of_a_file_step_carries_its_working_directory(
    instance: DagsterInstance,
) -> None:
    location = {"python_file": TESTJOBS}
    run = create_run(instance, location, "failing_job")
    args = deserialize_value(
        str(execute_request(instance, run, "always_fails", location)["execute_step_args"]),
        ExecuteStepArgs,
    )
    spec = build_op_spec(
        run=run, args=args, step_key="always_fails", timeout_s=1, environ={}, cwd="/"
    )
    assert spec["code_location"] == {"python_file": TESTJOBS}
    assert spec["working_directory"] == str(Path.cwd())  # for_file's default
    assert spec["env"] == {}


def test_retry_number_is_dagsters_attempt_count() -> None:
    origin = (
        ReconstructableRepository.for_module(SEED_MODULE, "defs")
        .get_reconstructable_job("fast_job")
        .get_python_origin()
    )

    def args(known: KnownExecutionState | None) -> ExecuteStepArgs:
        return ExecuteStepArgs(
            job_origin=origin,
            run_id="r",
            step_keys_to_execute=["s"],
            known_state=known,
        )

    assert retry_number(args(None), "s") == 0
    assert retry_number(args(KnownExecutionState()), "s") == 0
    assert retry_number(args(KnownExecutionState(previous_retry_attempts={"s": 2})), "s") == 2


def test_reasons_name_the_error_and_every_attempt() -> None:
    state = StepState(
        status="failed",
        attempt=3,
        max_attempts=3,
        error="worker crashed",
        worker_id="host/b/2",
        attempts=(
            AttemptRecord(1, "host/a/1", 4242, "crashed", None, None),
            AttemptRecord(2, "host/b/2", 4343, "failed", None, None),
            AttemptRecord(3, None, None, None, None, None),
        ),
    )
    assert describe_given_up("fan_out.fast_2[a]", "K", state) == (
        "step fan_out.fast_2[a] (key K): opfleet gave up after 3 of 3 attempts: worker crashed;"
        " attempts: #1 on host/a/1 pid 4242 crashed, #2 on host/b/2 pid 4343 failed,"
        " #3 on unknown worker pid ? unfinished"
    )
    assert describe_given_up("s", "K", None) == "opfleet has no record of step s (key K)"


def test_executor_defaults() -> None:
    processed = process_config(opfleet_executor.config_schema.config_type, {})
    assert processed.success, processed.errors
    config = processed.value
    assert config is not None
    assert config["max_attempts"] == 3
    assert config["step_timeout_s"] == 86400
    assert config["poll_interval_s"] == 0.05
    assert config["health_check_interval_s"] == 1
    assert config["bridge_timeout_s"] == 30.0
    built = executor_from_config(config)
    assert isinstance(built, OpfleetExecutor)
    assert built._sleep_seconds == 0.05
    assert built._check_step_health_interval_seconds == 1
    assert built._should_verify_step is False
    assert built.retries.enabled


def test_executor_config_is_checked() -> None:
    processed = process_config(
        opfleet_executor.config_schema.config_type, {"tags": {"team": 1}, "max_attempts": "x"}
    )
    assert not processed.success
