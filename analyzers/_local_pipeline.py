"""Running a user's analyzer PTransform in-process, for ``run_in_memory`` (imports Apache Beam when called)."""

from __future__ import annotations

import uuid

# Elements collected by the running pipeline, by a token naming one output. The
# pipeline's functions are pickled, so they reach this dict by module, not by value.
_COLLECTED: dict[str, list] = {}


def _collect(elements: list, token: str) -> None:
    _COLLECTED[token].extend(elements)


def run_ptransform(spec, batches: list[tuple]) -> list[list]:
    """Apply ``spec.ptransform`` to ``batches`` on Beam's DirectRunner in this process; each output's elements."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions(direct_running_mode="in_memory", direct_num_workers=1)
    tokens = [uuid.uuid4().hex for _ in spec.output_dtypes]
    for token in tokens:
        _COLLECTED[token] = []
    try:
        with beam.Pipeline(runner="DirectRunner", options=options) as pipeline:
            outputs = spec.returned(pipeline | "Batches" >> beam.Create(batches, reshuffle=False) | spec.ptransform)
            for index, (output, token) in enumerate(zip(outputs, tokens)):
                _ = output | f"Collect{index}" >> beam.combiners.ToList() | f"Keep{index}" >> beam.Map(_collect, token)
        return [list(_COLLECTED[token]) for token in tokens]
    finally:
        for token in tokens:
            _COLLECTED.pop(token, None)
