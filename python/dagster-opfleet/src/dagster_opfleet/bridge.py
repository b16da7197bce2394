"""The Dagster run worker's end of `opfleet dagster-bridge` (docs/dagster-protocol.md §1).

One bridge process per Dagster run: it holds the PostgreSQL connection and the resolved
queue URL, so a step costs one line each way instead of a connection per call. Calls are
strictly request/response in order, so one lock serialises them; a call that outlives its
timeout leaves the stream out of step, so the bridge is killed and the next call starts a
fresh one.
"""

from __future__ import annotations

import collections
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

_STDERR_TAIL_LINES = 40
_RETRYABLE_BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0)


class OpfleetBridgeError(Exception):
    """The bridge could not be started, died, or did not answer in time."""


class OpfleetCallError(OpfleetBridgeError):
    """The bridge answered a request with an error."""

    def __init__(self, method: str, message: str, retryable: bool) -> None:
        super().__init__(f"opfleet dagster-bridge {method}: {message}")
        self.method = method
        self.message = message
        self.retryable = retryable


class _BridgeGone(Exception):
    """The bridge process exited (or closed its pipes) under a call."""


@dataclass(frozen=True)
class BridgeConfig:
    """How to start the bridge. None means: the bridge reads its own OPFLEET_* environment."""

    opfleet_bin: str
    database_url: str | None = None
    sqs_endpoint: str | None = None
    queue_name: str | None = None
    region: str | None = None
    timeout_s: float = 30.0

    def argv(self) -> list[str]:
        argv = [self.opfleet_bin, "dagster-bridge"]
        for flag, value in (
            ("--sqs-endpoint", self.sqs_endpoint),
            ("--queue-name", self.queue_name),
            ("--region", self.region),
        ):
            if value:
                argv += [flag, value]
        return argv

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The URL may carry a password: the environment is private to the process,
        # a flag would show in every user's `ps`.
        if self.database_url:
            env["OPFLEET_DATABASE_URL"] = self.database_url
        return env


@dataclass(frozen=True)
class BridgeInfo:
    pid: int
    version: str
    queue_url: str | None


@dataclass(frozen=True)
class SubmitResult:
    key: str
    run_id: str
    step_key: str
    created: bool
    sent: bool
    status: str


@dataclass(frozen=True)
class AttemptRecord:
    attempt: int
    worker_id: str | None
    pid: int | None
    outcome: str | None
    started_at: str | None
    ended_at: str | None


@dataclass(frozen=True)
class StepState:
    status: str
    attempt: int
    max_attempts: int
    error: str | None
    worker_id: str | None
    attempts: tuple[AttemptRecord, ...]


@dataclass(frozen=True)
class CancelResult:
    cancelled: int
    signalled: int


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _step_state(raw: object) -> StepState:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("status"), str):
        raise OpfleetBridgeError(f"opfleet dagster-bridge step_status: malformed state {raw!r}")
    attempts = tuple(
        AttemptRecord(
            attempt=_opt_int(a.get("attempt")) or 0,
            worker_id=_opt_str(a.get("worker_id")),
            pid=_opt_int(a.get("pid")),
            outcome=_opt_str(a.get("outcome")),
            started_at=_opt_str(a.get("started_at")),
            ended_at=_opt_str(a.get("ended_at")),
        )
        for a in raw.get("attempts") or ()
        if isinstance(a, Mapping)
    )
    return StepState(
        status=raw["status"],
        attempt=_opt_int(raw.get("attempt")) or 0,
        max_attempts=_opt_int(raw.get("max_attempts")) or 0,
        error=_opt_str(raw.get("error")),
        worker_id=_opt_str(raw.get("worker_id")),
        attempts=attempts,
    )


class Bridge:
    """A started-on-demand `opfleet dagster-bridge` child process. Thread-safe."""

    def __init__(self, config: BridgeConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdout_buf = bytearray()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
        self._stderr_thread: threading.Thread | None = None
        self._info: BridgeInfo | None = None
        self._next_id = 1
        self._closed = False

    # -- public calls -------------------------------------------------------------------

    @property
    def info(self) -> BridgeInfo | None:
        return self._info

    def start(self) -> BridgeInfo:
        """Start the bridge now (calls start it on demand anyway) and return its ready line."""
        with self._lock:
            return self._ensure_started()

    def submit_step(
        self,
        *,
        dagster_run_id: str,
        job: str,
        step_key: str,
        retry: int,
        max_attempts: int,
        tags: Mapping[str, str],
        op: Mapping[str, object],
    ) -> SubmitResult:
        result = self.call(
            "submit_step",
            {
                "dagster_run_id": dagster_run_id,
                "job": job,
                "step_key": step_key,
                "retry": retry,
                "max_attempts": max_attempts,
                "tags": dict(tags),
                "op": dict(op),
            },
        )
        try:
            return SubmitResult(
                key=str(result["key"]),
                run_id=str(result.get("run_id", dagster_run_id)),
                step_key=str(result.get("step_key", "")),
                created=bool(result.get("created", False)),
                sent=bool(result.get("sent", False)),
                status=str(result.get("status", "unknown")),
            )
        except KeyError as missing:
            raise OpfleetBridgeError(
                f"opfleet dagster-bridge submit_step: the result has no {missing}: {result!r}"
            ) from None

    def step_status(self, keys: Sequence[str]) -> dict[str, StepState]:
        result = self.call("step_status", {"keys": list(keys)})
        steps = result.get("steps")
        if not isinstance(steps, Mapping):
            raise OpfleetBridgeError(f"opfleet dagster-bridge step_status: no steps in {result!r}")
        return {str(key): _step_state(state) for key, state in steps.items()}

    def cancel_steps(self, keys: Sequence[str], reason: str) -> CancelResult:
        result = self.call("cancel_steps", {"keys": list(keys), "reason": reason})
        return CancelResult(
            cancelled=_opt_int(result.get("cancelled")) or 0,
            signalled=_opt_int(result.get("signalled")) or 0,
        )

    def finish_run(self, dagster_run_id: str, status: str) -> None:
        self.call("finish_run", {"dagster_run_id": dagster_run_id, "status": status})

    def call(self, method: str, params: Mapping[str, object]) -> dict[str, Any]:
        """One request, one response. Every method of the protocol is idempotent, so a call
        whose bridge died is retried once on a restarted bridge, and a `retryable` error is
        retried with backoff until the call's timeout."""
        with self._lock:
            if self._closed:
                raise OpfleetBridgeError(f"opfleet dagster-bridge {method}: the bridge is closed")
            deadline = time.monotonic() + self._config.timeout_s
            restarted = False
            backoff = iter(_RETRYABLE_BACKOFF_S)
            while True:
                if self._proc is not None and self._proc.poll() is not None:
                    if restarted:
                        raise self._died_error(method, "exited again after a restart")
                    restarted = True
                    self._discard_process()
                try:
                    self._ensure_started()
                    return self._roundtrip(method, params, deadline)
                except _BridgeGone as gone:
                    if restarted:
                        raise self._died_error(
                            method, f"died again after a restart ({gone})"
                        ) from None
                    restarted = True
                    self._discard_process()
                except OpfleetCallError as error:
                    delay = next(backoff, _RETRYABLE_BACKOFF_S[-1])
                    if not error.retryable or time.monotonic() + delay >= deadline:
                        raise
                    time.sleep(delay)

    def close(self, timeout_s: float = 5.0) -> int | None:
        """Close stdin (the bridge exits at EOF), wait, kill if it does not. Idempotent."""
        with self._lock:
            self._closed = True
            proc = self._proc
            if proc is None:
                return None
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
            try:
                code = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            self._discard_process()
            return code

    def __enter__(self) -> Bridge:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- process ------------------------------------------------------------------------

    def _ensure_started(self) -> BridgeInfo:
        if self._proc is not None and self._info is not None:
            return self._info
        argv = self._config.argv()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._config.env(),
                close_fds=True,
                # Its own process group: a Ctrl-C aimed at the run worker must not kill the
                # bridge before finish_run. It still dies with us (PDEATHSIG, its side).
                process_group=0,
            )
        except OSError as error:
            raise OpfleetBridgeError(
                f"cannot start the opfleet bridge `{' '.join(argv)}`: {error}. Set the"
                " executor's opfleet_bin (or OPFLEET_BIN) to the opfleet binary."
            ) from error
        self._proc = proc
        self._stdout_buf.clear()
        self._stderr_tail.clear()
        if proc.stderr is None:  # pragma: no cover - stderr=PIPE always sets it
            raise OpfleetBridgeError("opfleet dagster-bridge started without a stderr pipe")
        self._stderr_thread = threading.Thread(
            target=_drain_stderr,
            args=(proc.stderr, self._stderr_tail),
            name=f"opfleet-bridge-stderr-{proc.pid}",
            daemon=True,
        )
        self._stderr_thread.start()
        try:
            self._info = self._read_ready(proc)
        except BaseException:
            self._discard_process()
            raise
        return self._info

    def _read_ready(self, proc: subprocess.Popen[bytes]) -> BridgeInfo:
        timeout = self._config.timeout_s
        try:
            line = self._read_line(time.monotonic() + timeout)
        except TimeoutError:
            raise OpfleetBridgeError(
                f"opfleet dagster-bridge (pid {proc.pid}) printed no ready line within"
                f" {timeout:g} s{self._stderr_suffix()}"
            ) from None
        if line is None:
            code = self._wait_exit(proc)
            raise OpfleetBridgeError(
                f"opfleet dagster-bridge exited with {_describe_exit(code)} before it was"
                f" ready{self._stderr_suffix()}"
            )
        ready = _parse_json_line(line)
        if ready is None or "ready" not in ready:
            code = self._wait_exit(proc, timeout_s=0.5)
            raise OpfleetBridgeError(
                f"opfleet dagster-bridge printed {_clip(line)!r} instead of its ready line"
                f" ({_describe_exit(code)}){self._stderr_suffix()}"
            )
        if ready.get("ready") is not True:
            code = self._wait_exit(proc)
            reason = ready.get("error") or "no reason given"
            raise OpfleetBridgeError(
                f"opfleet dagster-bridge is not ready: {reason} ({_describe_exit(code)})"
                f"{self._stderr_suffix()}"
            )
        return BridgeInfo(
            pid=proc.pid,
            version=str(ready.get("version", "")),
            queue_url=_opt_str(ready.get("queue_url")),
        )

    def _roundtrip(
        self, method: str, params: Mapping[str, object], deadline: float
    ) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise _BridgeGone("not running")
        request_id = self._next_id
        self._next_id += 1
        request = {"id": request_id, "method": method, "params": params}
        try:
            proc.stdin.write(json.dumps(request, separators=(",", ":")).encode() + b"\n")
            proc.stdin.flush()
        except (BrokenPipeError, ConnectionResetError) as error:
            raise _BridgeGone(str(error)) from error
        try:
            line = self._read_line(deadline)
        except TimeoutError:
            self._discard_process()
            raise OpfleetBridgeError(
                f"opfleet dagster-bridge did not answer {method} within"
                f" {self._config.timeout_s:g} s (bridge_timeout_s); it was killed"
                f"{self._stderr_suffix()}"
            ) from None
        if line is None:
            raise _BridgeGone(_describe_exit(self._wait_exit(proc)))
        response = _parse_json_line(line)
        if response is None or response.get("id") != request_id:
            self._discard_process()
            raise OpfleetBridgeError(
                f"opfleet dagster-bridge answered request {request_id} ({method}) with"
                f" {_clip(line)!r}; it was killed"
            )
        failure = response.get("error")
        if failure is not None:
            if isinstance(failure, Mapping):
                raise OpfleetCallError(
                    method, str(failure.get("message", failure)), failure.get("retryable") is True
                )
            raise OpfleetCallError(method, str(failure), False)
        result = response.get("result")
        if not isinstance(result, dict):
            raise OpfleetBridgeError(
                f"opfleet dagster-bridge {method}: the response has no result object:"
                f" {_clip(line)!r}"
            )
        return result

    def _read_line(self, deadline: float) -> bytes | None:
        """The next stdout line, None at EOF; TimeoutError at the deadline."""
        proc = self._proc
        if proc is None or proc.stdout is None:
            return None
        fd = proc.stdout.fileno()
        while True:
            newline = self._stdout_buf.find(b"\n")
            if newline >= 0:
                line = bytes(self._stdout_buf[:newline])
                del self._stdout_buf[: newline + 1]
                return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._stdout_buf += chunk

    def _wait_exit(self, proc: subprocess.Popen[bytes], timeout_s: float = 2.0) -> int | None:
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=1.0)  # so the error message has the last lines
        return code

    def _died_error(self, method: str, what: str) -> OpfleetBridgeError:
        return OpfleetBridgeError(
            f"opfleet dagster-bridge {what} during {method}{self._stderr_suffix()}"
        )

    def _discard_process(self) -> None:
        """Kill (if still running) and forget the current bridge process."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=1.0)
            self._stderr_thread = None
        self._proc = None
        self._info = None

    def _stderr_suffix(self) -> str:
        tail = list(self._stderr_tail)
        if not tail:
            return ""
        return "; its stderr ended with:\n" + "\n".join(tail)


def _drain_stderr(stream: IO[bytes], tail: collections.deque[str]) -> None:
    """Keep the last lines for error messages and pass every line on to our stderr, as if
    the bridge shared it. A thread, because a full stderr pipe would block the bridge."""
    try:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            tail.append(line)
            try:
                sys.stderr.write(f"[opfleet dagster-bridge] {line}\n")
            except (OSError, ValueError):
                pass
    finally:
        stream.close()


def _parse_json_line(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status yet"
    if code < 0:
        return f"signal {-code}"
    return f"exit code {code}"


def _clip(line: bytes, limit: int = 300) -> str:
    text = line.decode(errors="replace")
    return text if len(text) <= limit else text[:limit] + "..."
