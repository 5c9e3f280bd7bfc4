"""Row counts per stage: as data for run.json, as Beam metrics, and as a live line on a terminal.

``count_rows`` and the other ``count_*`` functions are called by the
pipeline's DoFns. Each adds to the counts of the element being processed
when the DoFn runs under ``tallying`` (``_counts.Tallied``): those counts
travel through the pipeline as data, are summed and written beside the
output, and are what run.json reports, on every runner. Each also
increments a Beam counter (``featurebeam/<name>``), for runners' monitoring
pages; run.json does not depend on them, as some runners report metrics
late, partially or not at all. When the launching process shows progress,
``count_rows`` also feeds a ``Progress`` line; DoFns running in other
processes (multi-process DirectRunner, portable runners, Dataflow workers)
do not reach it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import TextIO

from apache_beam.metrics import Metrics

NAMESPACE = "featurebeam"
STAGES = ("read", "written")

_active: Progress | None = None
_tally = threading.local()  # the counts of the element a DoFn is processing in this thread, if tallied


def _count(name: str, value: int) -> None:
    Metrics.counter(NAMESPACE, name).inc(value)
    counts = getattr(_tally, "counts", None)
    if counts is not None:
        counts[name] = counts.get(name, 0) + value


def tallying(items: Iterable, counts: dict[str, int]) -> Iterator:
    """Yield from ``items``, adding every ``count_*`` call made while producing them to ``counts``."""
    iterator = iter(items)
    while True:
        _tally.counts = counts
        try:
            item = next(iterator)
        except StopIteration:
            return
        finally:
            _tally.counts = None
        yield item


def count_rows(stage: str, rows: int) -> None:
    _count(f"rows_{stage}", rows)
    progress = _active
    if progress is not None:
        progress.add(stage, rows)


FILES_READ = "files_read"


def count_file_read() -> None:
    """One input file opened by the job's first read."""
    _count(FILES_READ, 1)


def count_non_finite(column: str, values: int) -> None:
    """NaN and infinite values read in a float column: run.json reports them, the CLI warns."""
    _count(f"{_NON_FINITE}{column}", values)


_NON_FINITE = "non_finite:"
_REJECTED, _REJECTED_ROWS, _REJECTED_UNKNOWN = "rejected:", "rejected_rows:", "rejected_unknown_rows:"


def count_rejected(path: str, rows: int | None) -> None:
    """A bad record set aside (``input.on_bad_record: skip``), with the rows it stands for (None: unknown)."""
    _count(f"{_REJECTED}{path}", 1)
    if rows is None:
        _count(f"{_REJECTED_UNKNOWN}{path}", 1)
    else:
        _count(f"{_REJECTED_ROWS}{path}", rows)


def rows_per_stage(counters: dict[str, int]) -> dict[str, int]:
    """``{stage: rows}`` from a job's counts."""
    return {name[len("rows_") :]: value for name, value in counters.items() if name.startswith("rows_")}


def non_finite_values(counters: dict[str, int]) -> dict[str, int]:
    """``{float column: NaN and infinite values read}``, for the columns that had any."""
    return {
        name[len(_NON_FINITE) :]: value
        for name, value in sorted(counters.items())
        if name.startswith(_NON_FINITE) and value
    }


def rejected_records(counters: dict[str, int]) -> dict:
    """What run.json reports about bad records: how many, the rows they stand for, per file.

    ``rows`` is None for a file with a bad record of unknown size (a truncated file).
    """
    files = {}
    for name, value in sorted(counters.items()):
        if name.startswith(_REJECTED) and value:
            path = name[len(_REJECTED) :]
            unknown = counters.get(f"{_REJECTED_UNKNOWN}{path}", 0)
            rows = counters.get(f"{_REJECTED_ROWS}{path}", 0)
            files[path] = {"records": value, "rows": None if unknown else rows}
    rows = [f["rows"] for f in files.values()]
    return {
        "records": sum(f["records"] for f in files.values()),
        "rows": None if None in rows else sum(rows),
        "files": files,
    }


def _pass_order(stage: str) -> int:
    """Stages in the order a job runs them: read (phase 0), phase1, ..., transform, written."""
    if stage.startswith("phase") and stage[5:].isdigit():
        return int(stage[5:])
    return {"read": 0, "transform": 10_000, "written": 10_001}.get(stage, 10_002)


class Progress:
    """A one-line progress display on ``stream``, redrawn twice a second while active.

    ``counted_here`` says whether the job's DoFns run in this process and so
    count rows live; otherwise the line shows the time running, and the
    final line the job's counts (``finish``).
    """

    def __init__(self, stream: TextIO, title: str, counted_here: bool = True, runner: str = ""):
        self._stream = stream
        self._title = title
        self._counted_here = counted_here
        self._runner = runner
        self._rows = dict.fromkeys(STAGES, 0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start = time.monotonic()
        self._final: dict[str, int] | None = None

    def add(self, stage: str, rows: int) -> None:
        with self._lock:  # later passes (phase1, ..., transform) appear as they start
            self._rows[stage] = self._rows.get(stage, 0) + rows

    def finish(self, rows_per_pass: dict[str, int]) -> None:
        """The job's own counts, for the final line."""
        self._final = dict(rows_per_pass)

    def _line(self) -> str:
        elapsed = f"[{time.monotonic() - self._start:.0f}s]"
        with self._lock:
            rows = self._final if self._final is not None else self._rows
            if self._final is None and not self._counted_here:
                return f"\r{self._title}: running on {self._runner} (rows are counted by its workers) {elapsed}"
            ordered = sorted(rows.items(), key=lambda item: _pass_order(item[0]))
            counts = " · ".join(f"{stage} {count:,}" for stage, count in ordered)
        return f"\r{self._title}: rows {counts}  {elapsed}"

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._stream.write(self._line())
            self._stream.flush()

    def __enter__(self) -> Progress:
        global _active
        _active = self
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        global _active
        _active = None
        self._stop.set()
        self._thread.join()
        self._stream.write(self._line() + "\n")
        self._stream.flush()
