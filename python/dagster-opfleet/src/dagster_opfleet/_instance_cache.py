"""DagsterInstances the step host builds once and hands to every forked step.

Building an instance costs a step about 100 ms (each storage connects and inspects its
tables). Dagster's SQL storages use NullPool, so after that an instance holds no
connection, and a fork can share it. That is checked, not assumed: an instance is kept
only if building it left no new file descriptor open and no thread running, and before
every fork the host checks that its descriptors are still the ones it had at start. If
either check fails, steps build their own instance, as `dagster api execute_step` does.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from dagster._core.instance import DagsterInstance
from dagster._core.secrets.env_file import get_env_var_dict
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import serialize_value

from dagster_opfleet._execute import ExecuteRequest

_CacheKey = tuple[str, tuple[tuple[str, str], ...], str | None]


def open_fds() -> dict[int, str]:
    """This process's open descriptors and what they point at."""
    fds: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except (FileNotFoundError, ValueError):
            continue  # the descriptor listdir itself used, already closed
    return fds


def _new_fds(before: Mapping[int, str]) -> list[str]:
    return [f"{fd} -> {target}" for fd, target in open_fds().items() if before.get(fd) != target]


@contextmanager
def _environment(overrides: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class InstanceCache:
    def __init__(self) -> None:
        self._instances: dict[_CacheKey, DagsterInstance | None] = {}
        self._baseline: dict[int, str] = {}
        self._warned = False

    def set_baseline(self) -> None:
        """Record the descriptors the host holds by design (its link, its wakeup pipe)."""
        self._baseline = open_fds()

    def instance_for(
        self, request: ExecuteRequest, args: ExecuteStepArgs
    ) -> DagsterInstance | None:
        """A connection-free instance for this step, or None (the step builds its own)."""
        key: _CacheKey = (
            serialize_value(args.instance_ref) if args.instance_ref else "",
            tuple(sorted(request.env.items())),
            request.working_directory,
        )
        if key not in self._instances:
            self._instances[key] = self._build(request, args)
        instance = self._instances[key]
        if instance is None:
            return None
        leaked = _new_fds(self._baseline)
        if leaked:
            if not self._warned:
                _log(
                    "not sharing DagsterInstances with steps: the host has descriptors open"
                    f" that it did not have at start ({', '.join(leaked)})"
                )
                self._warned = True
            return None
        return instance

    def _build(self, request: ExecuteRequest, args: ExecuteStepArgs) -> DagsterInstance | None:
        before = open_fds()
        threads_before = set(threading.enumerate())
        # The environment the step would build it in: the request's env and the working
        # directory's .env (instance config may name variables from either).
        base_dir = request.working_directory or os.getcwd()
        overrides = {**request.env, **get_env_var_dict(base_dir)}
        try:
            with _environment(overrides):
                if args.instance_ref is not None:
                    instance = DagsterInstance.from_ref(args.instance_ref)
                else:
                    instance = DagsterInstance.get()
        except Exception as error:  # noqa: BLE001 - the step will report it properly
            _log(f"not sharing a DagsterInstance: building it failed: {error}")
            return None
        leaked = _new_fds(before)
        threads = [t.name for t in set(threading.enumerate()) - threads_before]
        if leaked or threads:
            _log(
                "not sharing this DagsterInstance with steps: it holds"
                f" {', '.join(leaked + threads)}"
            )
            instance.dispose()
            return None
        return instance

    def dispose(self) -> None:
        for instance in self._instances.values():
            if instance is not None:
                instance.dispose()
        self._instances.clear()


def _log(message: str) -> None:
    print(f"opfleet step host[{os.getpid()}]: {message}", file=sys.stderr, flush=True)
