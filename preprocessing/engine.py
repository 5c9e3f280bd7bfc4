"""The engine side of ``preprocessing``, used by ``beam_jobs``: plan, run, export.

Users write preprocessing_fns with ``import preprocessing as pp``; pipelines
call these to plan phases, compute analyzer inputs, freeze results and apply
the exported graph.
"""

from preprocessing._columns import arrow_type, from_arrow, to_arrow, to_feed
from preprocessing._export import (
    EXAMPLES_INPUT,
    EXAMPLES_SIGNATURE,
    SERVING_SIGNATURE,
    OutputInfo,
    export_to,
    export_transform_fn,
)
from preprocessing._metadata import schema_pbtxt, write_transformed_metadata
from preprocessing._planning import Plan, plan, plan_of
from preprocessing._runner import AnalyzerInputs, TransformFn
from preprocessing._tracing import Trace, trace

__all__ = [
    "EXAMPLES_INPUT",
    "EXAMPLES_SIGNATURE",
    "SERVING_SIGNATURE",
    "AnalyzerInputs",
    "OutputInfo",
    "Plan",
    "Trace",
    "TransformFn",
    "arrow_type",
    "export_to",
    "export_transform_fn",
    "from_arrow",
    "plan",
    "plan_of",
    "schema_pbtxt",
    "to_arrow",
    "to_feed",
    "trace",
    "write_transformed_metadata",
]
