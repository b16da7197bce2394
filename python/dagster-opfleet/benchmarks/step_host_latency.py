"""How long from a worker sending `execute` to the op body starting, and what a host costs.

    .venv/bin/python python/dagster-opfleet/benchmarks/step_host_latency.py --steps 30
    ... --postgres-url postgresql+psycopg2://user@/db?host=/run/postgresql
    ... --cold            (the step_run cold path, one interpreter per step)
    ... --no-shared-instance

Drives a real step host (a subprocess on a socketpair, as a worker does) with real runs of
`stamp_job` (tests/locations/testjobs.py), whose op writes the wall-clock time its body
starts. Prints percentiles, the host's RSS/PSS after start and after the steps, and a
running child's RSS/PSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from dagster import DagsterInstance

import hostkit


def memory_kib(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                values[parts[0].rstrip(":")] = int(parts[1])
    return values


def describe_memory(label: str, pid: int) -> str:
    m = memory_kib(pid)
    private = m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)
    return (
        f"{label}: RSS {m['Rss'] / 1024:.1f} MiB, PSS {m['Pss'] / 1024:.1f} MiB,"
        f" private {private / 1024:.1f} MiB"
    )


def percentiles(name: str, values_ms: list[float]) -> str:
    ordered = sorted(values_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name:<24} n={len(ordered):<4} p50 {statistics.median(ordered):7.1f} ms"
        f"  p95 {p95:7.1f} ms  min {ordered[0]:7.1f}  max {ordered[-1]:7.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--no-shared-instance", action="store_true")
    parser.add_argument(
        "--noop-compute-logs",
        action="store_true",
        help="NoOpComputeLogManager: no tail/watcher subprocesses per step",
    )
    options = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="opfleet-bench-"))
    home = tmp / "dagster_home"
    home.mkdir()
    config = ""
    if options.postgres_url:
        config += f'storage:\n  postgres:\n    postgres_url: "{options.postgres_url}"\n'
    if options.noop_compute_logs:
        config += (
            "compute_logs:\n  module: dagster._core.storage.noop_compute_log_manager\n"
            "  class: NoOpComputeLogManager\n"
        )
    (home / "dagster.yaml").write_text(config)
    os.environ["DAGSTER_HOME"] = str(home)
    instance = DagsterInstance.get()
    location = {"python_file": hostkit.TESTJOBS}

    host = None
    if not options.cold:
        extra = ("--no-shared-instance",) if options.no_shared_instance else ()
        started = time.monotonic()
        host = hostkit.StepHost(tmp, [f"file:{hostkit.TESTJOBS}"], extra)
        ready = host.read(120)
        print(f"host ready in {time.monotonic() - started:.2f} s: {ready}")
        print(describe_memory("host after ready", host.proc.pid))

    to_body: list[float] = []
    to_exit: list[float] = []
    for i in range(options.steps):
        stamp = tmp / f"stamp-{i}"
        run = hostkit.create_run(
            instance, location, "stamp_job", {"ops": {"stamp": {"config": {"path": str(stamp)}}}}
        )
        request = hostkit.execute_request(instance, run, "stamp", location)
        if host is not None:
            sent = host.send({"id": i + 1, "execute": request})
            assert host.read()["event"] == "started"
            exited = host.read()
            done = time.time()
            assert exited.get("exit_code") == 0, (exited, host.stderr()[-3000:])
        else:
            sent = time.time()
            proc = subprocess.run(
                [sys.executable, "-m", "dagster_opfleet.step_run"],
                input=json.dumps(request).encode() + b"\n",
                capture_output=True,
                check=False,
            )
            done = time.time()
            assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        body = float(stamp.read_text().split()[0])
        to_body.append((body - sent) * 1000)
        to_exit.append((done - sent) * 1000)

    mode = "cold step_run" if options.cold else "step host"
    if options.no_shared_instance:
        mode += " (no shared instance)"
    storage = "postgres" if options.postgres_url else "sqlite"
    if options.noop_compute_logs:
        storage += ", no compute logs"
    print(f"{mode}, {storage} storage, {options.steps} steps of stamp_job")
    print(percentiles("execute -> op body", to_body))
    print(percentiles("execute -> exited", to_exit))
    if host is not None:
        print(describe_memory("host after the steps", host.proc.pid))
        run = hostkit.create_run(
            instance, location, "long_job", {"ops": {"long": {"config": {"seconds": 3}}}}
        )
        host.send(
            {"id": 10_000, "execute": hostkit.execute_request(instance, run, "long", location)}
        )
        child = host.read()["pid"]
        time.sleep(2.0)
        print(describe_memory("a running step's child", child))
        host.read(30)
        host.close()
    instance.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
