"""The cold path: `python -m dagster_opfleet.step_run`, one fresh interpreter per step.

Used by a worker started with `--dagster-step-host off`. It reads the same `execute` object
the step host receives, as one JSON line on stdin, and ends the way a host's child does:
exit 0 when the step ran to its own end, 1 when the step machinery raised, 2 for a request
it cannot read, 3 when the request does not match the run's code origin, or by the signal
that interrupted it.
"""

from __future__ import annotations

import json
import os
import sys

from dagster_opfleet._linux import die_with_parent


def main() -> int:
    parent = os.getppid()
    if not die_with_parent(parent) or parent == 1:
        return 1

    from dagster_opfleet._execute import (
        EXIT_BAD_REQUEST,
        ExecuteRequest,
        RequestError,
        exit_now,
        load_args,
        run_step,
    )

    line = sys.stdin.readline()
    try:
        raw = json.loads(line)
        # Accept the bare `execute` object or the host's whole message around it.
        if isinstance(raw, dict) and isinstance(raw.get("execute"), dict):
            raw = raw["execute"]
        request = ExecuteRequest.from_json(raw)
        args = load_args(request)
    except (ValueError, RequestError) as error:
        print(f"opfleet step_run: cannot read the execute request: {error}", file=sys.stderr)
        return EXIT_BAD_REQUEST
    exit_now(run_step(request, args))
    return 1  # not reached: exit_now ends the process


if __name__ == "__main__":
    sys.exit(main())
