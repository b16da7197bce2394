"""What the step host loads before `ready`, so that a forked step pays for none of it.

Everything here is imported or built once in the host and shared copy-on-write by every
child. Nothing here opens a connection or starts a thread: a child must not inherit either.
"""

from __future__ import annotations

import importlib
import threading

from dagster._core.code_pointer import CodePointer, load_python_file, load_python_module
from dagster._core.definitions.reconstruct import reconstruct_repository_def_from_pointer
from dagster._core.workspace.autodiscovery import loadable_targets_from_loaded_module

from dagster_opfleet._location import CodeLocation

# Imported lazily by Dagster while a step runs (execution, storage, IO managers); imported
# here they cost the host a few MiB once instead of every step a few hundred milliseconds.
_RUNTIME_MODULES = (
    "asyncio",
    "dagster._cli.api",
    "dagster._core.execution.api",
    "dagster._core.execution.plan.execute_plan",
    "dagster._core.execution.plan.execute_step",
    "dagster._core.execution.context_creation_job",
    "dagster._core.storage.fs_io_manager",
    "dagster._core.storage.local_compute_log_manager",
    "dagster._core.storage.runs.sqlite.sqlite_run_storage",
    "dagster._core.storage.event_log.sqlite.sqlite_event_log",
    "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
    "sqlalchemy.dialects.sqlite",
)
_OPTIONAL_MODULES = (
    "dagster_postgres",
    "sqlalchemy.dialects.postgresql",
    "psycopg2",
)


def import_runtime_modules() -> None:
    for name in _RUNTIME_MODULES:
        importlib.import_module(name)
    for name in _OPTIONAL_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def preload_location(location: CodeLocation) -> list[str]:
    """Import the location and build its definitions (jobs included) once; returns the
    names of the definitions found."""
    if location.kind == "python_file":
        module = load_python_file(location.name, None)
    else:
        module = load_python_module(location.name, None)
    names: list[str] = []
    for target in loadable_targets_from_loaded_module(module):
        pointer = _pointer(location, target.attribute)
        # The same call a step makes to rebuild the repository; Definitions cache what it
        # builds, so the child finds it built.
        repository = reconstruct_repository_def_from_pointer(pointer)
        repository.get_all_jobs()
        names.append(target.attribute)
    return names


def _pointer(location: CodeLocation, attribute: str) -> CodePointer:
    if location.kind == "module":
        return CodePointer.from_module(location.name, attribute, None)
    if location.kind == "package":
        return CodePointer.from_python_package(location.name, attribute, None)
    return CodePointer.from_python_file(location.name, attribute, None)


def threads_other_than_main() -> list[str]:
    """fork() copies only the calling thread: any other thread's locks would be left held."""
    return [t.name for t in threading.enumerate() if t is not threading.main_thread()]
