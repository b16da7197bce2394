"""Bridge's own failure handling, against tiny real executables that misbehave.

The bridge's behaviour with the real `opfleet dagster-bridge` is covered by the end-to-end
tests with the binary; these pin what the client does when the process does not follow
the protocol: no ready line, an early exit, a refusal, a silence, a death mid-call.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dagster_opfleet.bridge import Bridge, BridgeConfig, OpfleetBridgeError, OpfleetCallError


def _script(tmp_path: Path, name: str, body: str) -> str:
    """An executable `opfleet` stand-in; it receives `dagster-bridge ...` as arguments."""
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return str(path)


def _python(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return str(path)


def _bridge(binary: str, timeout_s: float = 5.0, **kwargs: str) -> Bridge:
    return Bridge(BridgeConfig(opfleet_bin=binary, timeout_s=timeout_s, **kwargs))


READY = '{"ready": true, "version": "0.3.0", "queue_url": "http://q/opfleet-tasks.fifo"}'


def test_a_missing_binary_says_which_and_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(OpfleetBridgeError, match=r"cannot start the opfleet bridge.*OPFLEET_BIN"):
        _bridge(str(tmp_path / "no-such-opfleet")).start()


def test_junk_then_exit_reports_the_line_and_the_exit_code(tmp_path: Path) -> None:
    binary = _script(tmp_path, "junk", "echo junk; echo 'something broke' >&2; exit 69\n")
    with pytest.raises(OpfleetBridgeError) as raised:
        _bridge(binary).start()
    message = str(raised.value)
    assert "'junk' instead of its ready line" in message
    assert "exit code 69" in message
    assert "something broke" in message


def test_ready_false_reports_the_reason_and_stderr(tmp_path: Path) -> None:
    binary = _script(
        tmp_path,
        "notready",
        """
        echo 'connecting to postgresql://db/opfleet' >&2
        echo '{"ready": false, "error": "PostgreSQL at db:5432 refused the connection"}'
        exit 69
        """,
    )
    with pytest.raises(OpfleetBridgeError) as raised:
        _bridge(binary).start()
    message = str(raised.value)
    assert "not ready: PostgreSQL at db:5432 refused the connection (exit code 69)" in message
    assert "connecting to postgresql://db/opfleet" in message


def test_an_early_exit_without_output(tmp_path: Path) -> None:
    binary = _script(tmp_path, "dies", "echo 'bad --queue-name' >&2; exit 2\n")
    with pytest.raises(OpfleetBridgeError, match=r"exited with exit code 2 before it was ready"):
        _bridge(binary).start()


def test_no_ready_line_in_time(tmp_path: Path) -> None:
    binary = _script(tmp_path, "silent", "exec sleep 30\n")
    began = time.monotonic()
    with pytest.raises(OpfleetBridgeError, match=r"printed no ready line within 0.5 s"):
        _bridge(binary, timeout_s=0.5).start()
    assert time.monotonic() - began < 5


def test_flags_and_the_database_url_in_the_environment(tmp_path: Path) -> None:
    """Configured values become flags, except the URL (it may carry a password)."""
    out = tmp_path / "seen"
    binary = _script(
        tmp_path,
        "echoargs",
        f"""
        echo "$* | $OPFLEET_DATABASE_URL" > {out}
        echo '{READY}'
        cat > /dev/null
        """,
    )
    bridge = _bridge(
        binary,
        database_url="postgresql://u:secret@db/opfleet",
        sqs_endpoint="http://localhost:4566",
        queue_name="q.fifo",
        region="eu-west-1",
    )
    info = bridge.start()
    assert info.queue_url == "http://q/opfleet-tasks.fifo"
    assert bridge.close() == 0
    assert out.read_text().strip() == (
        "dagster-bridge --sqs-endpoint http://localhost:4566 --queue-name q.fifo"
        " --region eu-west-1 | postgresql://u:secret@db/opfleet"
    )


def test_a_silent_call_times_out_and_kills_the_bridge(tmp_path: Path) -> None:
    binary = _script(tmp_path, "mute", f"echo '{READY}'\nexec sleep 30\n")
    bridge = _bridge(binary, timeout_s=0.5)
    pid = bridge.start().pid
    with pytest.raises(OpfleetBridgeError, match=r"did not answer step_status within 0.5 s"):
        bridge.step_status(["k"])
    assert bridge.info is None  # killed, forgotten; the next call starts a new one
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_bridge_that_dies_is_restarted_once(tmp_path: Path) -> None:
    """Dies on every request: the call restarts it once, then gives up saying so."""
    starts = tmp_path / "starts"
    binary = _script(
        tmp_path,
        "crashy",
        f"""
        echo start >> {starts}
        echo '{READY}'
        read line
        echo 'crashing on purpose' >&2
        exit 70
        """,
    )
    bridge = _bridge(binary)
    with pytest.raises(OpfleetBridgeError, match=r"died again after a restart") as raised:
        bridge.cancel_steps(["k"], "test")
    assert "crashing on purpose" in str(raised.value)
    assert starts.read_text().count("start") == 2
    bridge.close()


def test_a_restart_recovers_an_idempotent_call(tmp_path: Path) -> None:
    """First process dies on its first request; the second answers."""
    marker = tmp_path / "died-once"
    binary = _python(
        tmp_path,
        "once",
        f"""
        import json, os, sys
        print({READY!r}, flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            if not os.path.exists({str(marker)!r}):
                open({str(marker)!r}, "w").close()
                sys.exit(1)
            steps = {{k: {{"status": "running", "attempt": 1, "max_attempts": 3, "error": None,
                     "worker_id": "w", "attempts": []}} for k in request["params"]["keys"]}}
            print(json.dumps({{"id": request["id"], "result": {{"steps": steps}}}}), flush=True)
        """,
    )
    bridge = _bridge(binary)
    states = bridge.step_status(["a"])
    assert states["a"].status == "running"
    assert bridge.close() == 0


def test_errors_and_out_of_step_responses(tmp_path: Path) -> None:
    binary = _python(
        tmp_path,
        "errors",
        f"""
        import json, sys
        print({READY!r}, flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            if request["method"] == "finish_run":
                print(json.dumps({{"id": request["id"], "error":
                    {{"message": "no such run", "retryable": False}}}}), flush=True)
            else:
                print(json.dumps({{"id": request["id"] + 100, "result": {{}}}}), flush=True)
        """,
    )
    bridge = _bridge(binary)
    with pytest.raises(OpfleetCallError, match=r"finish_run: no such run") as raised:
        bridge.finish_run("r", "succeeded")
    assert raised.value.retryable is False
    with pytest.raises(OpfleetBridgeError, match=r"answered request 2 \(step_status\) with"):
        bridge.step_status(["k"])
    bridge.close()


def test_retryable_errors_are_retried_within_the_timeout(tmp_path: Path) -> None:
    binary = _python(
        tmp_path,
        "flaky",
        f"""
        import json, sys
        print({READY!r}, flush=True)
        for n, line in enumerate(sys.stdin):
            request = json.loads(line)
            if n < 2:
                reply = {{"id": request["id"], "error": {{"message": "SQS throttled",
                         "retryable": True}}}}
            else:
                reply = {{"id": request["id"], "result": {{"cancelled": 1, "signalled": 0}}}}
            print(json.dumps(reply), flush=True)
        """,
    )
    bridge = _bridge(binary)
    result = bridge.cancel_steps(["k"], "test")
    assert (result.cancelled, result.signalled) == (1, 0)
    bridge.close()


def test_close_kills_a_bridge_that_ignores_eof(tmp_path: Path) -> None:
    binary = _script(tmp_path, "ignores-sigterm", f"echo '{READY}'\ntrap '' TERM\nexec sleep 30\n")
    bridge = _bridge(binary)
    bridge.start()
    began = time.monotonic()
    assert bridge.close(timeout_s=0.3) == -9
    assert time.monotonic() - began < 5
    with pytest.raises(OpfleetBridgeError, match="closed"):
        bridge.step_status(["k"])
