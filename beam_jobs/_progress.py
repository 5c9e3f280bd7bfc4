"""Row counts per stage: Beam metrics for run.json, a live line on a terminal.

``count_rows`` is called by the pipeline's DoFns. It always increments a Beam
counter (``featurebeam/rows_<stage>``), which every runner aggregates and
which run.json reports. When the launching process shows progress, it also
feeds a ``Progress`` line; DoFns running in other processes (multi-process
DirectRunner, Dataflow workers) only count metrics.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

NAMESPACE = "featurebeam"
STAGES = ("read", "written")

_active: Progress | None = None


def count_rows(stage: str, rows: int) -> None:
    Metrics.counter(NAMESPACE, f"rows_{stage}").inc(rows)
    progress = _active
    if progress is not None:
        progress.add(stage, rows)


FILES_READ = "files_read"


def count_file_read() -> None:
    """One input file opened by the job's first read: an empty input still reports metrics."""
    Metrics.counter(NAMESPACE, FILES_READ).inc()


def count_non_finite(column: str, values: int) -> None:
    """NaN and infinite values read in a float column: run.json reports them, the CLI warns."""
    Metrics.counter(NAMESPACE, f"{_NON_FINITE}{column}").inc(values)


_NON_FINITE = "non_finite:"
_REJECTED, _REJECTED_ROWS, _REJECTED_UNKNOWN = "rejected:", "rejected_rows:", "rejected_unknown_rows:"


def count_rejected(path: str, rows: int | None) -> None:
    """A bad record set aside (``input.on_bad_record: skip``), with the rows it stands for (None: unknown)."""
    Metrics.counter(NAMESPACE, f"{_REJECTED}{path}").inc()
    if rows is None:
        Metrics.counter(NAMESPACE, f"{_REJECTED_UNKNOWN}{path}").inc()
    else:
        Metrics.counter(NAMESPACE, f"{_REJECTED_ROWS}{path}").inc(rows)


def job_counters(result) -> dict[str, int]:
    """Every featurebeam counter of a finished pipeline (one metrics query); {} if the runner has none."""
    try:
        counters = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    except Exception:  # some runners do not support metrics queries
        return {}
    totals: dict[str, int] = {}
    for counter in counters:
        name = counter.key.metric.name
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[name] = totals.get(name, 0) + int(value or 0)
    return totals


def rows_per_stage(counters: dict[str, int]) -> dict[str, int]:
    """``{stage: rows}`` from ``job_counters``."""
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
    """A one-line progress display on ``stream``, redrawn twice a second while active."""

    def __init__(self, stream: TextIO, title: str):
        self._stream = stream
        self._title = title
        self._rows = dict.fromkeys(STAGES, 0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start = time.monotonic()

    def add(self, stage: str, rows: int) -> None:
        with self._lock:  # later passes (phase1, ..., transform) appear as they start
            self._rows[stage] = self._rows.get(stage, 0) + rows

    def _line(self) -> str:
        with self._lock:
            ordered = sorted(self._rows.items(), key=lambda item: _pass_order(item[0]))
            counts = " · ".join(f"{stage} {rows:,}" for stage, rows in ordered)
        return f"\r{self._title}: rows {counts}  [{time.monotonic() - self._start:.0f}s]"

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
