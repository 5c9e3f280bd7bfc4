"""How each kind of analyzer combines on Beam: a registry keyed by spec type.

``combine_for(spec)`` looks the spec's class (then its bases) up in
``_COMBINERS``. Every combiner is a PTransform built from the specs of one
phase that share it; it takes the per-batch analyzer inputs
(``{key: tuple of arrays}``) and returns a singleton ``{key: results}``.

- ``AnalyzerSpec`` (the default, for any accumulator): every such analyzer of
  a phase in one fused ``CombineGlobally``.
- ``VocabularySpec``: token counts per batch, sharded by a stable hash of the
  token and combined per (vocabulary, shard), so no worker ever holds every
  distinct token; ``top_k`` and thresholds apply per shard, then on the union.
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
        counts = vocab_math.count_tokens(inputs[spec.key][0])
        for shard, table in vocab_math.split_by_shard(counts, num_shards):
            yield (spec.key, shard), table


def _select_in_shard(item, specs_by_key):
    (key, _), counts = item
    return key, specs_by_key[key].select(counts)


def _final_vocabulary(item, specs_by_key):
    key, counts = item
    return key, (specs_by_key[key].tokens_of(counts),)


def _with_empty_vocabularies(found: dict, specs: list[VocabularySpec]) -> dict:
    """A vocabulary that saw no token at all never reached a combine: it is empty."""
    return {spec.key: found.get(spec.key) or (spec.tokens_of(vocab_math.EMPTY_COUNTS),) for spec in specs}


@register_combiner(VocabularySpec)
class ShardedVocabularies(beam.PTransform):
    """Vocabularies counted per (vocabulary, token shard), then selected."""

    def __init__(self, specs: list[VocabularySpec], num_shards: int = VOCAB_SHARDS):
        super().__init__()
        self._specs = list(specs)
        self._num_shards = num_shards

    def expand(self, inputs):
        specs_by_key = {spec.key: spec for spec in self._specs}
        return (
            inputs
            | "CountTokens" >> beam.FlatMap(_counts_per_shard, self._specs, self._num_shards)
            | "CountPerShard" >> beam.CombinePerKey(TokenCountsCombineFn())
            | "SelectInShard" >> beam.Map(_select_in_shard, specs_by_key)
            | "UnionShards" >> beam.CombinePerKey(TokenCountsCombineFn())
            | "SelectVocabulary" >> beam.Map(_final_vocabulary, specs_by_key)
            | "ToDict" >> beam.combiners.ToDict()
            | "AddEmpty" >> beam.Map(_with_empty_vocabularies, self._specs)
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
