"""Work overlapped with the caller's: one background thread per process, calls run in submission order.

The data statistics are computed beside the analysis, from the same batches.
Their work is numpy and Arrow kernels (sorting, counting), which release the
GIL, so a background thread lets it run on another core while the caller's
thread goes on reading and running the analysis. ``Pending`` keeps the calls
of one owner (an accumulator), which only that thread touches until ``wait``
returns, once they have all run (re-raising the first error). At most ``limit`` calls are queued per owner, so
the batches they hold stay few.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_executor_pid: int | None = None


def _shared_executor() -> ThreadPoolExecutor:
    """The process's background thread (made anew in a forked child, which has no threads)."""
    global _executor, _executor_pid
    with _lock:
        if _executor is None or _executor_pid != os.getpid():
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="featurebeam-background")
            _executor_pid = os.getpid()
        return _executor


class Pending:
    """Calls submitted by one owner, run in order on the background thread."""

    def __init__(self, limit: int = 4):
        self._limit = limit
        self._futures: deque[Future] = deque()

    def submit(self, function: Callable, *args) -> None:
        while len(self._futures) >= self._limit:
            self._futures.popleft().result()
        self._futures.append(_shared_executor().submit(function, *args))

    def wait(self) -> None:
        """Return once every submitted call has run; re-raise the first error."""
        while self._futures:
            self._futures.popleft().result()
