"""Counts as data: what run.json reports, carried through the pipeline, not read from metrics.

Runners report Beam metrics differently (the portable runner only
``committed`` values, some only approximately or late, some not at all), so
run.json's row counts, NaN counts and bad-record counts travel as data: a
DoFn run as ``Tallied`` emits, per element, the counts its ``count_*`` calls
made (``_progress``); ``WriteCounts`` sums them and writes one small JSON
file per pass into the job's staging output (``counts/<pass>.json``), which
every worker and the launcher can reach, wherever the workers run. The
launcher reads them back (``read_counts``) once the pipeline is done.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam_jobs._progress import tallying
from beam_jobs._write import write_json

COUNTS = "counts"  # the tagged output of a Tallied DoFn


class Tallied(beam.DoFn):
    """``inner``, with its counts per element emitted as a dict on the ``counts`` output."""

    def __init__(self, inner: beam.DoFn):
        self._inner = inner

    def setup(self):
        self._inner.setup()

    def start_bundle(self):
        self._inner.start_bundle()

    def process(self, element, *args, **kwargs):
        counts: dict[str, int] = {}
        yield from tallying(self._inner.process(element, *args, **kwargs) or (), counts)
        if counts:
            yield beam.pvalue.TaggedOutput(COUNTS, counts)

    def finish_bundle(self):
        return self._inner.finish_bundle()

    def teardown(self):
        self._inner.teardown()


def sum_counts(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for name, value in part.items():
            total[name] = total.get(name, 0) + value
    return total


class WriteCounts(beam.PTransform):
    """``PCollection[dict]`` of counts -> their sum, written as JSON to ``path`` (also when there are none)."""

    def __init__(self, path: str):
        super().__init__()
        self._path = path

    def expand(self, counts):
        return counts | "Sum" >> beam.CombineGlobally(sum_counts) | "Write" >> beam.Map(write_json_to, self._path)


def write_json_to(counts: dict, path: str) -> str:
    write_json(path, counts)
    return path


def read_counts(directory: str) -> dict[str, int] | None:
    """The sum of every ``counts/*.json`` the pipeline wrote; None if it wrote none."""
    try:
        found = FileSystems.match([FileSystems.join(directory, "*.json")])[0].metadata_list
    except Exception:  # no such folder
        return None
    if not found:
        return None
    parts = []
    for metadata in found:
        with FileSystems.open(metadata.path) as handle:
            parts.append(json.loads(handle.read().decode()))
    return sum_counts(parts)
