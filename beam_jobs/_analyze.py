"""AnalyzeDataset: every analysis phase of a preprocessing_fn in one pipeline."""

from __future__ import annotations

from collections.abc import Callable

import apache_beam as beam

from analyzers import VocabularySpec
from analyzers import _vocabulary as vocab_math
from analyzers.combine_fns import FusedAnalyzersCombineFn, TokenCountsCombineFn
from preprocessing import Schema, engine

VOCAB_SHARDS = 16
_TOKEN_COUNTS = "token_counts"


class _ComputeAnalyzerInputs(beam.DoFn):
    """RecordBatch -> numeric analyzer inputs (main output) and token counts per shard.

    The preprocessing_fn is traced once per DoFn instance (so once per worker),
    with the results of earlier phases, from the side input, as constants.
    """

    def __init__(self, preprocessing_fn: Callable, schema: Schema, specs, num_shards: int):
        self._fn = preprocessing_fn
        self._schema = schema
        self._numeric_keys = [s.key for s in specs if not isinstance(s, VocabularySpec)]
        self._vocab_keys = [s.key for s in specs if isinstance(s, VocabularySpec)]
        self._num_shards = num_shards
        self._inputs = None

    def process(self, batch, values):
        if self._inputs is None:
            self._inputs = engine.AnalyzerInputs(
                self._fn, self._schema, values, set(self._numeric_keys) | set(self._vocab_keys)
            )
        inputs = self._inputs(batch)
        if self._numeric_keys:
            yield {key: inputs[key] for key in self._numeric_keys}
        for key in self._vocab_keys:
            counts = vocab_math.count_tokens(inputs[key][0])
            for shard, table in vocab_math.split_by_shard(counts, self._num_shards):
                yield beam.pvalue.TaggedOutput(_TOKEN_COUNTS, ((key, shard), table))


def _select_in_shard(item, specs_by_key):
    (key, _), counts = item
    spec = specs_by_key[key]
    return key, vocab_math.select(counts, spec.top_k, spec.frequency_threshold)


def _final_vocabulary(item, specs_by_key):
    key, counts = item
    spec = specs_by_key[key]
    selected = vocab_math.select(counts, spec.top_k, spec.frequency_threshold)
    return key, (vocab_math.tokens_of(selected, spec.dtype),)


def _merge_results(numeric, vocabularies, previous, vocab_specs):
    merged = dict(previous)
    merged.update(numeric)
    merged.update(vocabularies)
    for key, spec in vocab_specs.items():  # a vocabulary of no tokens at all never reached a combine
        if key not in merged:
            merged[key] = (vocab_math.tokens_of(vocab_math.EMPTY_COUNTS, spec.dtype),)
    return merged


class _AnalyzePhase(beam.PTransform):
    """One pass over the data computing one phase's analyzers, given earlier results."""

    def __init__(self, preprocessing_fn, schema, specs, num_shards=VOCAB_SHARDS):
        super().__init__()
        self._fn, self._schema, self._specs, self._num_shards = preprocessing_fn, schema, specs, num_shards

    def expand(self, batches_and_values):
        batches, values = batches_and_values
        numeric_specs = [s for s in self._specs if not isinstance(s, VocabularySpec)]
        vocab_specs = {s.key: s for s in self._specs if isinstance(s, VocabularySpec)}
        inputs = batches | "AnalyzerInputs" >> beam.ParDo(
            _ComputeAnalyzerInputs(self._fn, self._schema, self._specs, self._num_shards),
            beam.pvalue.AsSingleton(values),
        ).with_outputs(_TOKEN_COUNTS, main="numeric")
        numeric = inputs.numeric | "FusedCombine" >> beam.CombineGlobally(FusedAnalyzersCombineFn(numeric_specs))
        vocabularies = (
            inputs[_TOKEN_COUNTS]
            | "CountPerShard" >> beam.CombinePerKey(TokenCountsCombineFn())
            | "SelectInShard" >> beam.Map(_select_in_shard, vocab_specs)
            | "UnionShards" >> beam.CombinePerKey(TokenCountsCombineFn())
            | "SelectVocabulary" >> beam.Map(_final_vocabulary, vocab_specs)
            | "VocabularyDict" >> beam.combiners.ToDict()
        )
        return numeric | "MergeResults" >> beam.Map(
            _merge_results,
            beam.pvalue.AsSingleton(vocabularies),
            beam.pvalue.AsSingleton(values),
            vocab_specs,
        )


class AnalyzeToValues(beam.PTransform):
    """``PCollection[RecordBatch]`` -> a single ``{analyzer key: result}`` dict.

    Each phase reads the data once; all phases are in this one pipeline. Given
    a ``source`` it is applied to a pipeline instead, and every phase reads the
    source anew: no runner then has to hold the dataset between phases, so
    memory stays flat however large the input. ``source(phase, after)`` returns
    the PTransform producing the RecordBatches for a phase; it should start
    reading only once the singleton ``after`` (the earlier phases' results)
    exists, or a runner may read early and buffer everything until then.
    """

    def __init__(
        self,
        preprocessing_fn: Callable,
        schema: Schema,
        plan: engine.Plan | None = None,
        source: Callable[[int, beam.PCollection], beam.PTransform] | None = None,
    ):
        super().__init__()
        self._fn = preprocessing_fn
        self._schema = schema
        self._plan = plan or engine.plan(preprocessing_fn, schema)
        self._source = source

    def expand(self, batches_or_pipeline):
        values = batches_or_pipeline.pipeline | "NoResultsYet" >> beam.Create([{}])
        for index, specs in enumerate(self._plan.phases):
            if self._source is None:
                batches = batches_or_pipeline
            else:
                batches = batches_or_pipeline.pipeline | f"ReadForPhase{index}" >> self._source(index, values)
            values = (batches, values) | f"Phase{index}" >> _AnalyzePhase(self._fn, self._schema, list(specs))
        return values
