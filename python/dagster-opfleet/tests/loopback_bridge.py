"""A stand-in for `opfleet dagster-bridge` that runs each submitted step at once, on this
machine, with `python -m dagster_opfleet.step_run`: no queue, no database, no leases, no
re-runs. It exists to test the Dagster side (executor, step handler, bridge client) with
real Dagster runs and real step processes; the real binary is tested end to end elsewhere.

    LOOPBACK_LOG       append every request here, one JSON line each
    LOOPBACK_GIVE_UP   comma-separated Dagster step keys to report `failed` without running
    LOOPBACK_SKIP      comma-separated Dagster step keys to "run" with `true`: succeeded in
                       opfleet, but no Dagster event written
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from typing import Any

_children: dict[str, subprocess.Popen[bytes]] = {}
_given_up: set[str] = set()
_cancelled: set[str] = set()


def _key(run_id: str, step_key: str, retry: int) -> str:
    """The contract's derivation (the hash function is the binary's choice; sha256 here)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", step_key)
    if safe != step_key or len(safe) > 48:
        safe = safe[:48] + "-" + hashlib.sha256(step_key.encode()).hexdigest()[:8]
    return f"{run_id}#{safe}.r{retry}"


def _state(key: str) -> dict[str, Any]:
    base: dict[str, Any] = {"attempt": 1, "max_attempts": 3, "worker_id": "loopback/1"}
    if key in _given_up:
        return {
            **base,
            "status": "failed",
            "error": "loopback gave up on purpose",
            "attempts": [
                {
                    "attempt": 1,
                    "worker_id": "loopback/1",
                    "pid": 1,
                    "outcome": "crashed",
                    "started_at": None,
                    "ended_at": None,
                }
            ],
        }
    child = _children.get(key)
    if child is None:
        return {**base, "status": "unknown", "error": None, "attempts": []}
    code = child.poll()
    if key in _cancelled:
        status, error = "cancelled", "cancelled"
    elif code is None:
        status, error = "running", None
    elif code == 0:
        status, error = "succeeded", None
    else:
        status, error = "failed", f"step process exited with {code}"
    return {**base, "status": status, "error": error, "attempts": []}


def _submit(params: dict[str, Any]) -> dict[str, Any]:
    key = _key(params["dagster_run_id"], params["step_key"], params["retry"])
    created = key not in _children and key not in _given_up
    if created and params["step_key"] in os.environ.get("LOOPBACK_GIVE_UP", "").split(","):
        _given_up.add(key)
    elif created:
        op = params["op"]
        execute = {
            "execute_step_args": op["execute_step_args"],
            "step_key": op["step_key"],
            "code_location": op["code_location"],
            "working_directory": op["working_directory"],
            "env": op["env"],
            "opfleet": {"key": key, "attempt": 1, "worker_id": "loopback/1"},
        }
        skip = params["step_key"] in os.environ.get("LOOPBACK_SKIP", "").split(",")
        child = subprocess.Popen(
            ["true"] if skip else [sys.executable, "-m", "dagster_opfleet.step_run"],
            stdin=subprocess.PIPE,
            stdout=sys.stderr.fileno(),  # stdout is the protocol channel
            env={**os.environ, **op["env"]},
        )
        assert child.stdin is not None
        try:
            child.stdin.write(json.dumps(execute).encode() + b"\n")
            child.stdin.close()
        except BrokenPipeError:
            pass  # `true` did not read it
        _children[key] = child
    return {
        "key": key,
        "run_id": params["dagster_run_id"],
        "step_key": key.split("#", 1)[1],
        "created": created,
        "sent": True,
        "status": _state(key)["status"],
    }


def _cancel(keys: list[str]) -> dict[str, Any]:
    signalled = 0
    for key in keys:
        child = _children.get(key)
        if child is not None and child.poll() is None:
            child.terminate()
            _cancelled.add(key)
            signalled += 1
    return {"cancelled": 0, "signalled": signalled}


def main() -> int:
    log = os.environ.get("LOOPBACK_LOG")
    ready = {"ready": True, "version": "loopback", "queue_url": "loopback://steps"}
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if log:
            with open(log, "a") as out:
                out.write(line if line.endswith("\n") else line + "\n")
        method, params = request["method"], request["params"]
        if method == "submit_step":
            result = _submit(params)
        elif method == "step_status":
            result = {"steps": {key: _state(key) for key in params["keys"]}}
        elif method == "cancel_steps":
            result = _cancel(params["keys"])
        elif method == "finish_run":
            result = {}
        else:
            print(json.dumps({"id": request["id"], "error": {"message": "?", "retryable": False}}))
            continue
        print(json.dumps({"id": request["id"], "result": result}), flush=True)
    for child in _children.values():
        if child.poll() is None:
            child.kill()
        child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
