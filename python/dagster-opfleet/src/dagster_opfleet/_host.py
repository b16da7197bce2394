"""The step host's loop (docs/dagster-protocol.md §3): one socket to the worker, one pipe
for SIGCHLD, no timers and no threads; one fork per `execute`."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass

from dagster._core.instance import DagsterInstance
from dagster._grpc.types import ExecuteStepArgs

from dagster_opfleet._execute import (
    EXIT_RAISED,
    ExecuteRequest,
    RequestError,
    exit_now,
    load_args,
    run_step,
)
from dagster_opfleet._instance_cache import InstanceCache
from dagster_opfleet._linux import die_with_parent


def log(message: str) -> None:
    print(f"opfleet step host[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


@dataclass
class _Child:
    request_id: int
    pid: int


class StepHost:
    def __init__(self, link: socket.socket, share_instances: bool = True) -> None:
        self._link = link
        self._selector = selectors.DefaultSelector()
        self._buffer = bytearray()
        self._children: dict[int, _Child] = {}  # by pid, only while unreaped
        self._pid_by_request: dict[int, int] = {}
        self._wakeup_read, self._wakeup_write = os.pipe()
        self._host_pid = os.getpid()
        self._instances = InstanceCache() if share_instances else None

    def send(self, message: Mapping[str, object]) -> None:
        self._link.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    def serve(self, ready: Mapping[str, object]) -> int:
        """Announce `ready`, then serve until EOF on the link (then kill every child)."""
        for fd in (self._wakeup_read, self._wakeup_write):
            os.set_blocking(fd, False)
        # A SIGCHLD only writes a byte to the wakeup pipe; children are reaped in the loop,
        # so an `exited` can never overtake its `started`.
        signal.signal(signal.SIGCHLD, lambda _signo, _frame: None)
        signal.set_wakeup_fd(self._wakeup_write, warn_on_full_buffer=False)
        self._selector.register(self._link, selectors.EVENT_READ, "link")
        self._selector.register(self._wakeup_read, selectors.EVENT_READ, "sigchld")
        if self._instances is not None:
            self._instances.set_baseline()
        try:
            self.send(ready)
            while True:
                for key, _events in self._selector.select():
                    if key.data == "sigchld":
                        self._drain_wakeup()
                        self._reap()
                    elif not self._read_link():
                        return 0
        except BrokenPipeError:
            return 0  # the worker is gone
        finally:
            self.kill_all_children()

    # -- messages -------------------------------------------------------------------------

    def _read_link(self) -> bool:
        """Handle what the worker sent; False at EOF."""
        try:
            data = self._link.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            return False
        self._buffer += data
        while (newline := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            if line.strip():
                self._handle_line(line)
        return True

    def _handle_line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            log(f"ignoring a line that is not JSON: {line[:200]!r}")
            return
        request_id = message.get("id") if isinstance(message, dict) else None
        if not isinstance(request_id, int) or isinstance(request_id, bool):
            log(f"ignoring a message without an integer id: {line[:200]!r}")
            return
        if "execute" in message:
            self._execute(request_id, message["execute"])
        elif "signal" in message:
            self._signal(request_id, message["signal"])
        else:
            self._error(request_id, "unknown request: expected execute or signal")

    def _error(self, request_id: int, message: str) -> None:
        self.send({"id": request_id, "event": "error", "message": message})

    # -- steps ----------------------------------------------------------------------------

    def _execute(self, request_id: int, raw: object) -> None:
        if request_id in self._pid_by_request:
            self._error(request_id, f"id {request_id} is already running")
            return
        try:
            request = ExecuteRequest.from_json(raw)
            if request.working_directory and not os.path.isdir(request.working_directory):
                raise RequestError(
                    f"working_directory {request.working_directory} is not a directory"
                )
            args = load_args(request)
        except RequestError as error:
            self._error(request_id, str(error))
            return
        instance = self._instances.instance_for(request, args) if self._instances else None
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as error:
            self._error(request_id, f"fork: {error}")
            return
        if pid == 0:
            self._child(request, args, instance)  # never returns
        try:
            os.setpgid(pid, pid)  # the child does it too: whichever runs first wins the race
        except OSError:
            pass
        self._children[pid] = _Child(request_id, pid)
        self._pid_by_request[request_id] = pid
        self.send({"id": request_id, "event": "started", "pid": pid})

    def _child(
        self, request: ExecuteRequest, args: ExecuteStepArgs, instance: DagsterInstance | None
    ) -> None:
        status = EXIT_RAISED
        try:
            os.setpgid(0, 0)  # its own group: a signal reaches the step's subprocesses too
            if not die_with_parent(self._host_pid):
                os._exit(EXIT_RAISED)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            # The link to the worker and the host's loop belong to the host alone.
            self._selector.close()
            self._link.close()
            os.close(self._wakeup_read)
            os.close(self._wakeup_write)
            status = run_step(request, args, instance)
        except BaseException:  # noqa: BLE001 - nothing may unwind into the host's loop
            traceback.print_exc()
        finally:
            exit_now(status)

    def _signal(self, request_id: int, signo: object) -> None:
        if not isinstance(signo, int) or isinstance(signo, bool) or not 0 < signo < signal.NSIG:
            self._error(request_id, f"bad signal {signo!r}")
            return
        pid = self._pid_by_request.get(request_id)
        if pid is None:
            # Already reaped (its `exited` is sent): never signal a pid that may be reused.
            return
        try:
            os.killpg(pid, signo)
        except ProcessLookupError:
            pass

    def _drain_wakeup(self) -> None:
        try:
            while os.read(self._wakeup_read, 4096):
                pass
        except BlockingIOError:
            pass

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self._children.pop(pid, None)
            if child is None:
                continue
            del self._pid_by_request[child.request_id]
            event: dict[str, object] = {"id": child.request_id, "event": "exited"}
            if os.WIFSIGNALED(status):
                event["signal"] = os.WTERMSIG(status)
            else:
                event["exit_code"] = os.WEXITSTATUS(status)
            self.send(event)

    def kill_all_children(self) -> None:
        for pid in self._children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in self._children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self._children.clear()
        self._pid_by_request.clear()
