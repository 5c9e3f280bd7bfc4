"""How each kind of analyzer combines on Beam: a registry keyed by spec type.

``combine_for(spec)`` looks the spec's class (then its bases) up in
``_COMBINERS``. Every combiner is a PTransform built from the specs of one
phase that share it; it takes the per-batch analyzer inputs
(``{key: tuple of arrays}``) and returns a singleton ``{key: results}``.

- ``AnalyzerSpec`` (the default, for any accumulator): every such analyzer of
  a phase in one fused ``CombineGlobally``.
- ``VocabularySpec``: token count tables per batch (count, weight and label
  sums), sharded by a stable hash of the token and combined per (vocabulary,
  shard), so no worker ever holds every distinct token; ``top_k``, coverage
  and thresholds apply per shard, then on the union.
- ``PTransformSpec`` (``pp.experimental.ptransform_analyzer``): the user's own
  PTransform over the batches' inputs, its one-element outputs checked.

A new analyzer needs no entry here unless it needs a different distribution.
"""

from __future__ import annotations

from collections.abc import Callable

import apache_beam as beam

from analyzers import AnalyzerSpec, PTransformSpec, VocabularySpec
from analyzers import _vocabulary as vocab_math
from analyzers._ptransform import batch_arrays
from analyzers.combine_fns import FusedAnalyzersCombineFn, TokenCountsCombineFn

_COMBINERS: dict[type, type[beam.PTransform]] = {}
VOCAB_SHARDS = 16


def register_combiner(spec_type: type) -> Callable:
    def register(combiner: type[beam.PTransform]) -> type[beam.PTransform]:
        _COMBINERS[spec_type] = combiner
        return combiner

    return register


def combiner_for(spec: AnalyzerSpec) -> type[beam.PTransform]:
    for cls in type(spec).__mro__:
        if cls in _COMBINERS:
            return _COMBINERS[cls]
    raise TypeError(f"no combiner for {type(spec).__name__}")


@register_combiner(AnalyzerSpec)
class FusedAccumulators(beam.PTransform):
    """Every accumulator analyzer of a phase in one combine."""

    def __init__(self, specs: list[AnalyzerSpec]):
        super().__init__()
        self._specs = list(specs)

    def expand(self, inputs):
        return inputs | "Combine" >> beam.CombineGlobally(FusedAnalyzersCombineFn(self._specs))


def _counts_per_shard(inputs: dict, specs: list[VocabularySpec], num_shards: int):
    for spec in specs:
        counts = spec.count(inputs[spec.key])
        for shard, table in vocab_math.split_by_shard(counts, num_shards):
            yield (spec.key, shard), table


def _row_totals(inputs: dict, specs: list[VocabularySpec]):
    """Rows per label, for vocabularies ranked by mutual information with labels."""
    for spec in specs:
        totals = spec.totals(inputs[spec.key])
        if totals is not None:
            yield spec.key, totals


def _select_in_shard(item, specs_by_key, totals):
    (key, _), counts = item
    return key, specs_by_key[key].prune(counts, totals.get(key))


def _final_vocabulary(item, specs_by_key, totals):
    key, counts = item
    return key, specs_by_key[key].extract_from(counts, totals.get(key))


def _with_empty_vocabularies(found: dict, specs: list[VocabularySpec], totals: dict) -> dict:
    """A vocabulary that saw no token at all never reached a combine: it is empty."""
    return {
        spec.key: found.get(spec.key) or spec.extract_from(vocab_math.EMPTY_COUNTS, totals.get(spec.key))
        for spec in specs
    }


@register_combiner(VocabularySpec)
class ShardedVocabularies(beam.PTransform):
    """Vocabularies counted per (vocabulary, token shard), pruned per shard, then selected on the union.

    Token count tables (count, weight and label sums per token) are combined
    per shard, so memory per worker is bounded by a shard's distinct tokens.
    Each shard keeps only the tokens that can be in the vocabulary (its best
    ``top_k``, its coverage per key, those past the thresholds), so the final
    selection sees at most ``num_shards`` times that. Vocabularies ranked by
    mutual information also sum the rows per label (one small table per
    vocabulary), which every shard reads as a side input to score its tokens.
    """

    def __init__(self, specs: list[VocabularySpec], num_shards: int = VOCAB_SHARDS):
        super().__init__()
        self._specs = list(specs)
        self._num_shards = num_shards

    def expand(self, inputs):
        specs_by_key = {spec.key: spec for spec in self._specs}
        totals = beam.pvalue.AsSingleton(
            inputs
            | "RowTotals" >> beam.FlatMap(_row_totals, self._specs)
            | "SumRowTotals" >> beam.CombinePerKey(TokenCountsCombineFn())
            | "TotalsToDict" >> beam.combiners.ToDict()
        )
        return (
            inputs
            | "CountTokens" >> beam.FlatMap(_counts_per_shard, self._specs, self._num_shards)
            | "CountPerShard" >> beam.CombinePerKey(TokenCountsCombineFn())
            | "SelectInShard" >> beam.Map(_select_in_shard, specs_by_key, totals)
            | "UnionShards" >> beam.CombinePerKey(TokenCountsCombineFn())
            | "SelectVocabulary" >> beam.Map(_final_vocabulary, specs_by_key, totals)
            | "ToDict" >> beam.combiners.ToDict()
            | "AddEmpty" >> beam.Map(_with_empty_vocabularies, self._specs, totals)
        )


def _label(key: str) -> str:
    return key.replace("/", ".")


def _results_of(_, spec: PTransformSpec, *collected):
    return spec.key, spec.checked(list(collected))


@register_combiner(PTransformSpec)
class UserPTransforms(beam.PTransform):
    """Each ``ptransform_analyzer``'s PTransform over its inputs (one tuple of numpy arrays per batch)."""

    def __init__(self, specs: list[PTransformSpec]):
        super().__init__()
        self._specs = list(specs)

    def expand(self, inputs):
        results = []
        for spec in self._specs:
            label = _label(spec.key)
            batches = inputs | f"Inputs[{label}]" >> beam.Map(lambda found, key: batch_arrays(found[key]), spec.key)
            outputs = spec.returned(batches | f"Apply[{label}]" >> spec.ptransform)
            collected = [
                output | f"Collect[{label}][{i}]" >> beam.combiners.ToList() for i, output in enumerate(outputs)
            ]
            results.append(
                inputs.pipeline
                | f"Start[{label}]" >> beam.Create([None])
                | f"Check[{label}]" >> beam.Map(_results_of, spec, *[beam.pvalue.AsSingleton(c) for c in collected])
            )
        return results | "Flatten" >> beam.Flatten() | "ToDict" >> beam.combiners.ToDict()
