"""``AnalyzerSpec``: one full-pass analyzer, defined in one place.

A spec is plain, picklable data built while a preprocessing_fn is traced. It

- checks its arguments when it is built (``check``), so a bad argument is
  reported at trace time on the launching machine, never in a worker;
- declares its results (``outputs``: names, dtypes, shapes), from which the
  traced graph gets its placeholders and constants;
- holds its math as an accumulator: ``create``, ``add`` one batch of inputs
  (a tuple of numpy or Arrow arrays), ``merge`` (mutating only its first
  argument), ``compact``, ``extract`` the results as a tuple of numpy arrays;
- describes its results for ``featurebeam inspect`` and ``analyzers.json``
  (``record``).

How a spec combines over a distributed dataset is chosen by its type: Beam
pipelines look the spec's class up in a registry (``beam_jobs``), where a
generic entry fuses every accumulator of a phase into one combine and
vocabularies have an entry that counts tokens in shards. A new analyzer that
subclasses ``AnalyzerSpec`` needs nothing else.

A spec's math runs without a pipeline (here over two batches, merged):

>>> from analyzers import MeanAndVarSpec
>>> spec = MeanAndVarSpec((), True, "float32", key="fare/mean_and_var")
>>> first = spec.add(spec.create(), (np.array([1.0, 2.0]),))
>>> second = spec.add(spec.create(), (np.array([3.0, 6.0]),))
>>> spec.extract(spec.merge(first, second))
(array(3., dtype=float32), array(3.5, dtype=float32))
>>> spec.outputs()[0]
Output(name='mean', dtype='float32', shape=(), vocabulary_file=None, vocabulary_format='text')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

# Where a transform_fn keeps its analyzers' ``record``s: ``{"analyzers": [record, ...]}``.
RECORDS_FILE = "assets.extra/analyzers.json"


@dataclass(frozen=True)
class Output:
    """One result of an analyzer.

    ``dtype`` is a TensorFlow (and numpy) dtype name; ``shape`` may hold None
    for a size known only once the data is seen. A vocabulary output
    (``vocabulary_file`` set) is a list of file entries that the graph sees as
    the path of that file, as tf.Transform's ``vocabulary`` returns it;
    ``vocabulary_format`` is the file's: ``text`` (one entry per line) or
    ``tfrecord_gzip`` (one record per entry).
    """

    name: str
    dtype: str
    shape: tuple[int | None, ...] = ()
    vocabulary_file: str | None = None
    vocabulary_format: str = "text"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [_token(v) for v in value.reshape(-1).tolist()]
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return _token(value)
    return value


def _token(token) -> str:
    return token.decode("utf-8", errors="backslashreplace") if isinstance(token, bytes) else str(token)


@dataclass(frozen=True)
class AnalyzerSpec:
    """Base of every analyzer spec. ``key`` is unique within one preprocessing_fn.

    Subclasses are frozen dataclasses whose fields are the analyzer's
    parameters; they set ``kind`` (the name ``inspect`` shows) and implement
    ``outputs`` and the accumulator methods.
    """

    kind: ClassVar[str] = "analyzer"
    key: str = field(default="", kw_only=True)

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        """Raise ``ArgumentError`` for a bad parameter (called on construction)."""

    def with_key(self, key: str) -> AnalyzerSpec:
        return dataclasses.replace(self, key=key)

    def outputs(self) -> tuple[Output, ...]:
        raise NotImplementedError

    # -- the math ---------------------------------------------------------

    def create(self):
        raise NotImplementedError

    def add(self, accumulator, inputs: tuple):
        """Add one batch; ``inputs`` holds one array per input tensor. Returns the accumulator."""
        raise NotImplementedError

    def merge(self, accumulator, other):
        """Fold ``other`` into ``accumulator`` (the only one mutated) and return it."""
        raise NotImplementedError

    def compact(self, accumulator):
        return accumulator

    def extract(self, accumulator) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    # -- what inspect and analyzers.json show ------------------------------

    def parameters(self) -> dict:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "key"}

    def describe(self, values: tuple) -> dict:
        """The results, as JSON: ``{"values": {output name: value}}`` by default."""
        names = [output.name for output in self.outputs()]
        return {"values": {name: _jsonable(np.asarray(value)) for name, value in zip(names, values, strict=True)}}

    def record(self, values: tuple, phase: int | None) -> dict:
        """One entry of ``analyzers.json``."""
        return {
            "key": self.key,
            "analyzer": self.kind,
            "phase": phase,
            "parameters": self.parameters(),
            **self.describe(values),
        }


class SingleInputSpec(AnalyzerSpec):
    """Mixin for specs whose accumulator object has ``add(array)`` and ``merge(other)``."""

    def add(self, accumulator, inputs):
        accumulator.add(inputs[0])
        return accumulator

    def merge(self, accumulator, other):
        accumulator.merge(other)
        return accumulator
