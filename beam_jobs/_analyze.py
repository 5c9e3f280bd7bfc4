"""AnalyzeToValues: every analysis phase of a preprocessing_fn in one pipeline."""

from __future__ import annotations

from collections.abc import Callable

import apache_beam as beam

from beam_jobs._combiners import combiner_for
from preprocessing import Schema, engine


class _ComputeAnalyzerInputs(beam.DoFn):
    """RecordBatch -> ``{key: analyzer inputs}``, one tagged output per combiner.

    The preprocessing_fn is traced once per DoFn instance (so once per worker),
    with the results of earlier phases, from the side input, as constants.
    """

    def __init__(self, preprocessing_fn: Callable, schema: Schema, groups: dict[str, list]):
        self._fn = preprocessing_fn
        self._schema = schema
        self._groups = {tag: [spec.key for spec in specs] for tag, specs in groups.items()}
        self._inputs = None

    def process(self, batch, values):
        if self._inputs is None:
            keys = {key for group in self._groups.values() for key in group}
            self._inputs = engine.AnalyzerInputs(self._fn, self._schema, values, keys)
        inputs = self._inputs(batch)
        for tag, keys in self._groups.items():
            yield beam.pvalue.TaggedOutput(tag, {key: inputs[key] for key in keys})


def _merged(*results: dict) -> dict:
    merged = {}
    for result in results:
        merged.update(result)
    return merged


def _grouped_by_combiner(specs) -> dict[str, list]:
    """The specs of a phase grouped by the combiner they use, each group under a stable tag."""
    groups: dict[type, list] = {}
    for spec in specs:
        groups.setdefault(combiner_for(spec), []).append(spec)
    return {combiner.__name__: group for combiner, group in groups.items()}


class _AnalyzePhase(beam.PTransform):
    """One pass over the data computing one phase's analyzers, given earlier results."""

    def __init__(self, preprocessing_fn, schema, specs):
        super().__init__()
        self._fn, self._schema, self._specs = preprocessing_fn, schema, specs

    def expand(self, batches_and_values):
        batches, values = batches_and_values
        groups = _grouped_by_combiner(self._specs)
        inputs = batches | "AnalyzerInputs" >> beam.ParDo(
            _ComputeAnalyzerInputs(self._fn, self._schema, groups), beam.pvalue.AsSingleton(values)
        ).with_outputs(*groups)
        results = [inputs[tag] | tag >> combiner_for(specs[0])(specs) for tag, specs in groups.items()]
        side_inputs = [beam.pvalue.AsSingleton(result) for result in results]
        return values | "MergeResults" >> beam.Map(_merged, *side_inputs)


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
