"""Beam CombineFns carrying the analyzer math. Thin adapters: the math is in the specs."""

from __future__ import annotations

import apache_beam as beam

from analyzers import _background, _statistics, _top_values, _vocabulary
from analyzers._spec import AnalyzerSpec


class FusedAnalyzersCombineFn(beam.CombineFn):
    """Several analyzers of one phase in one combine.

    Input: ``{key: tuple of arrays}`` for one batch. Accumulator: a list with
    one accumulator per spec, in spec order. ``merge_accumulators`` mutates
    only the first accumulator it is given. Output: ``{key: tuple of arrays}``.
    """

    def __init__(self, specs: list[AnalyzerSpec]):
        self._specs = list(specs)

    def create_accumulator(self):
        return [spec.create() for spec in self._specs]

    def add_input(self, accumulator, inputs):
        for i, spec in enumerate(self._specs):
            accumulator[i] = spec.add(accumulator[i], inputs[spec.key])
        return accumulator

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)
        merged = next(accumulators)
        for other in accumulators:
            for i, spec in enumerate(self._specs):
                merged[i] = spec.merge(merged[i], other[i])
        return merged

    def compact(self, accumulator):
        return [spec.compact(item) for spec, item in zip(self._specs, accumulator)]

    def extract_output(self, accumulator):
        return {spec.key: spec.extract(acc) for spec, acc in zip(self._specs, accumulator)}


class TokenCountsCombineFn(beam.CombineFn):
    """Sums per-token counts of one (vocabulary, shard).

    Input and output: Arrow tables of ``(token, count)``. Accumulator: a list of
    such tables, folded into one whenever it grows past a few entries, so
    memory stays proportional to the number of distinct tokens. Only the first
    accumulator passed to ``merge_accumulators`` is mutated.
    """

    _FOLD_AT = 16

    def create_accumulator(self):
        return []

    def add_input(self, accumulator, counts):
        accumulator.append(counts)
        if len(accumulator) >= self._FOLD_AT:
            accumulator[:] = [_vocabulary.merge_counts(accumulator)]
        return accumulator

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)
        merged = next(accumulators)
        for other in accumulators:
            merged.extend(other)
            if len(merged) >= self._FOLD_AT:
                merged[:] = [_vocabulary.merge_counts(merged)]
        return merged

    def compact(self, accumulator):
        return [_vocabulary.merge_counts(accumulator)] if len(accumulator) > 1 else accumulator

    def extract_output(self, accumulator):
        return _vocabulary.merge_counts(accumulator)


class _Statistics:
    """A ``StatisticsAccumulator`` whose batches are added on the background thread (``analyzers._background``).

    Its state is read (merged, pickled, extracted) only through ``done``.
    """

    def __init__(self, accumulator: _statistics.StatisticsAccumulator):
        self._accumulator = accumulator
        self._pending = _background.Pending()

    def add(self, batch) -> _Statistics:
        self._pending.submit(self._accumulator.add, batch)
        return self

    def done(self) -> _statistics.StatisticsAccumulator:
        self._pending.wait()
        return self._accumulator

    def __getstate__(self):
        return self.done()

    def __setstate__(self, accumulator):
        self.__init__(accumulator)


class StatisticsCombineFn(beam.CombineFn):
    """Data statistics of RecordBatches: a ``StatisticsAccumulator`` over ``features`` (``(name, type)``).

    Input: RecordBatches, added on a background thread, so that the
    statistics' numpy and Arrow work overlaps the caller's. Output: the
    ``StatisticsAccumulator``, whose ``to_proto`` takes the string features'
    value counts (combined separately, in shards). ``merge_accumulators``
    mutates only the first accumulator it is given.
    """

    def __init__(self, features):
        self._features = list(features)

    def create_accumulator(self):
        return _Statistics(_statistics.StatisticsAccumulator(self._features))

    def add_input(self, accumulator, batch):
        return accumulator.add(batch)

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)
        merged = next(accumulators)
        for other in accumulators:
            merged.done().merge(other.done())
        return merged

    def compact(self, accumulator):
        accumulator.done().compact()
        return accumulator

    def extract_output(self, accumulator):
        return accumulator.done()


class TopValuesCombineFn(TokenCountsCombineFn):
    """Counts of one shard of a string feature's values -> that shard's ``TopValues`` (distinct values, top 1,000)."""

    def extract_output(self, accumulator):
        return _top_values.top_of(super().extract_output(accumulator))
