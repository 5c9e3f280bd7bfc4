"""``histogram``: counts of values per bucket, or per distinct value, over the whole dataset.

Numeric histograms count bucket ids that the graph computes from the values
and the boundaries (so boundaries may come from another analyzer);
categorical ones count each distinct value, as tf.Transform's ``histogram``
with ``categorical=True``, ordered by the value's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzers._spec import AnalyzerSpec, Output
from analyzers._vocabulary import _as_binary
from featurebeam_base import checks


@dataclass(frozen=True)
class HistogramSpec(AnalyzerSpec):
    """Bucket counts: outputs ``(counts,)`` (int64, ``[num_buckets]``).

    With ``categorical``, the input is strings and the outputs are
    ``(counts, elements)``: every distinct string, in ascending byte order,
    with its count. Otherwise the input is int64 bucket ids in
    ``[0, num_buckets)``.
    """

    kind = "histogram"
    num_buckets: int | None
    categorical: bool = False

    def check(self):
        checks.boolean(self.categorical, "categorical")
        if not self.categorical:
            checks.integer(self.num_buckets, "boundaries", minimum=1)

    def outputs(self):
        if self.categorical:
            return (Output("counts", "int64", (None,)), Output("elements", "string", (None,)))
        return (Output("counts", "int64", (self.num_buckets,)),)

    def create(self):
        if self.categorical:
            return pa.table({"element": pa.array([], pa.binary()), "count": pa.array([], pa.int64())})
        return np.zeros(self.num_buckets, np.int64)

    def add(self, accumulator, inputs):
        if not self.categorical:
            ids = np.asarray(inputs[0], np.int64).ravel()
            return accumulator + np.bincount(ids, minlength=self.num_buckets)[: self.num_buckets]
        counts = pc.value_counts(_as_binary(inputs[0]))
        batch = pa.table({"element": counts.field("values"), "count": counts.field("counts").cast(pa.int64())})
        return self.merge(accumulator, batch)

    def merge(self, accumulator, other):
        if not self.categorical:
            return accumulator + other
        merged = pa.concat_tables([accumulator, other]).group_by("element").aggregate([("count", "sum")])
        return pa.table({"element": merged["element"], "count": merged["count_sum"]})

    def extract(self, accumulator):
        if not self.categorical:
            return (accumulator.astype(np.int64),)
        ordered = accumulator.take(pc.sort_indices(accumulator, sort_keys=[("element", "ascending")]))
        elements = np.array(ordered["element"].to_pylist(), dtype=object)
        return ordered["count"].to_numpy().astype(np.int64), elements
