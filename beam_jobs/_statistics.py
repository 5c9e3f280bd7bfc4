"""Data statistics on Beam: ``ComputeStatistics`` and ``WriteStatistics``.

The numeric, length and presence statistics of every feature fuse into one
``CombineGlobally`` (``StatisticsCombineFn``). The values of string features
are counted in shards (a stable hash of the value, as for vocabularies), each
shard keeping its number of distinct values and its 1,000 most frequent, so
no worker holds every distinct value of a feature; the shards' results are
exact for the whole feature because shards hold disjoint values.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from analyzers import _background, _top_values
from analyzers._statistics import values_per_row
from analyzers._vocabulary import merge_counts, split_by_shard
from analyzers.combine_fns import StatisticsCombineFn, TopValuesCombineFn
from beam_jobs._combiners import VOCAB_SHARDS
from beam_jobs._layout import STATISTICS_DIR, STATISTICS_FILE


class _CountValuesPerShard(beam.DoFn):
    """RecordBatches -> ``((feature, shard), counts)``, once per bundle.

    Counts are summed over a bundle's batches before they are split into
    shards, so each distinct value of a bundle is hashed once, not once per batch.
    """

    _FOLD_AT = 16

    def __init__(self, names: list[str], num_shards: int):
        self._names, self._num_shards = list(names), num_shards

    def start_bundle(self):
        self._counts: dict[str, list] = {name: [] for name in self._names}
        self._pending = _background.Pending()

    def process(self, batch):
        self._pending.submit(self._count, batch)  # on the background thread, overlapping the caller's work
        return ()

    def _count(self, batch) -> None:
        columns = batch.schema.names
        for name in self._names:
            if name in columns:
                counted = self._counts[name]
                counted.append(_top_values.count_values(values_per_row(batch.column(columns.index(name)))[0]))
                if len(counted) >= self._FOLD_AT:
                    counted[:] = [merge_counts(counted)]

    def finish_bundle(self):
        self._pending.wait()
        for name, counted in self._counts.items():
            for shard, table in split_by_shard(merge_counts(counted), self._num_shards):
                yield WindowedValue(((name, shard), table), MIN_TIMESTAMP, [GlobalWindow()])
        self._counts = {name: [] for name in self._names}


def _to_proto(accumulator, shards: list) -> bytes:
    """The statistics, with each string feature's ``TopValues`` from those of its shards."""
    by_feature: dict[str, list] = {}
    for (name, _), top in shards:
        by_feature.setdefault(name, []).append(top)
    top = {name: _top_values.union_of_shards(tops) for name, tops in by_feature.items()}
    return accumulator.to_proto(top).SerializeToString(deterministic=True)


class ComputeStatistics(beam.PTransform):
    """``PCollection[RecordBatch]`` -> a singleton: the serialized ``DatasetFeatureStatisticsList``.

    ``features`` is a ``preprocessing.Schema`` or ``(name, type)`` pairs
    (``float``, ``int``, ``string``); a column may be flat or a list column,
    and its nulls are missing values.
    """

    def __init__(self, features, num_shards: int = VOCAB_SHARDS):
        super().__init__()
        if hasattr(features, "features"):  # a preprocessing.Schema
            features = [(f.name, f.type) for f in features.features]
        self._features = [(name, kind) for name, kind in features]
        self._num_shards = num_shards

    def expand(self, batches):
        accumulated = batches | "Accumulate" >> beam.CombineGlobally(StatisticsCombineFn(self._features))
        strings = [name for name, kind in self._features if kind == "string"]
        shards = (
            batches
            | "CountValues" >> beam.ParDo(_CountValuesPerShard(strings, self._num_shards))
            | "TopPerShard" >> beam.CombinePerKey(TopValuesCombineFn())
        )
        return accumulated | "ToProto" >> beam.Map(_to_proto, beam.pvalue.AsList(shards))


def statistics_path(output_dir: str) -> str:
    return FileSystems.join(output_dir, STATISTICS_DIR, STATISTICS_FILE)


def write_statistics(serialized: bytes, output_dir: str) -> str:
    """Write ``OUTPUT/statistics/FeatureStats.pb`` (a plain serialized proto, as TFX writes it); returns its path."""
    path = statistics_path(output_dir)
    with FileSystems.create(
        path, mime_type="application/octet-stream", compression_type=CompressionTypes.UNCOMPRESSED
    ) as handle:
        handle.write(serialized)
    return path


class WriteStatistics(beam.PTransform):
    """The singleton from ``ComputeStatistics`` -> a singleton: the path of the file written."""

    def __init__(self, output_dir: str):
        super().__init__()
        self._output_dir = output_dir

    def expand(self, serialized):
        return serialized | "Write" >> beam.Map(write_statistics, self._output_dir)


def read_statistics(path: str):
    """A ``DatasetFeatureStatisticsList`` from a ``FeatureStats.pb`` file (local or remote)."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return statistics_pb2.DatasetFeatureStatisticsList.FromString(handle.read())
