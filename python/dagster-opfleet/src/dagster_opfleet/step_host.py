"""The warm step host: `python -m dagster_opfleet.step_host --fd 3 [--preload LOC]...`.

An opfleet worker starts one at its start (docs/dagster-protocol.md §3). It imports Dagster
and the allow-listed code locations once, then forks one child per `execute` request, so a
step starts with everything already imported.

Only light modules are imported here: the death signal is armed before the second or so
it takes to import Dagster, so a worker killed meanwhile leaves no host behind.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import sys

from dagster_opfleet._linux import die_with_parent


def _log(message: str) -> None:
    print(f"opfleet step host[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dagster_opfleet.step_host",
        description="Execute Dagster steps for an opfleet worker, one fork per step.",
    )
    parser.add_argument("--fd", type=int, required=True, help="the socketpair end to serve")
    parser.add_argument(
        "--preload",
        action="append",
        default=[],
        metavar="LOCATION",
        help="module:NAME, package:NAME or file:/abs/path.py, imported before ready",
    )
    parser.add_argument(
        "--no-shared-instance",
        action="store_true",
        help="every step builds its own DagsterInstance (slower; for comparison)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parent = os.getppid()
    if parent == 1 or not die_with_parent(parent):
        return 1  # the worker is already gone
    args = _parse_args(argv)
    try:
        link = socket.socket(fileno=args.fd)
    except OSError as error:
        _log(f"--fd {args.fd} is not a socket: {error}")
        return 2
    os.set_inheritable(args.fd, False)

    import dagster

    from dagster_opfleet import _preload
    from dagster_opfleet._host import StepHost
    from dagster_opfleet._location import CodeLocation, CodeLocationError

    try:
        locations = [CodeLocation.from_preload(text) for text in args.preload]
    except CodeLocationError as error:
        _log(str(error))
        return 2
    _preload.import_runtime_modules()
    for location in locations:
        try:
            names = _preload.preload_location(location)
        except Exception as error:  # noqa: BLE001 - say which location and carry on
            # That location's steps then fail with the import error in their own event
            # log; the other locations still start warm.
            _log(f"cannot preload {location.describe()}: {type(error).__name__}: {error}")
        else:
            _log(f"preloaded {location.describe()} ({', '.join(names)})")
    threads = _preload.threads_other_than_main()
    if threads:
        _log(f"warning: threads running at fork time: {', '.join(threads)}")

    # Everything imported so far lives as long as the host: moved out of the collector's
    # reach, a child's garbage collections do not touch (and so copy) the host's pages.
    gc.collect()
    gc.freeze()
    host = StepHost(link, share_instances=not args.no_shared_instance)
    return host.serve(
        {"event": "ready", "pid": os.getpid(), "dagster_version": dagster.__version__}
    )


if __name__ == "__main__":
    sys.exit(main())
