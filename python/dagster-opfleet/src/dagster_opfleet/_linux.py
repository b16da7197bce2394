"""Linux process-lifetime helpers shared by the step host, its children and the cold path."""

from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int | None) -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies, then re-check the parent.

    The re-check closes the race where the parent died before prctl() ran: the death signal
    is only armed for a parent that is still alive. Returns False when the parent is already
    gone (the caller should exit at once).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    parent = os.getppid()
    if expected_parent is not None:
        return parent == expected_parent
    # Without a known parent, being adopted by init means the parent is gone; a subreaper
    # adoption is caught by the caller's EOF on its link to the parent.
    return parent != 1
