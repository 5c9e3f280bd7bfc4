"""The engine side of ``preprocessing``, used by ``beam_jobs``: plan, run, export.

Users write preprocessing_fns with ``import preprocessing as pp``; pipelines
call these to plan phases, compute analyzer inputs, freeze results and apply
the exported graph. ``run_in_memory`` runs a fn on a few columns without Beam.
"""

from preprocessing._columns import arrow_type, from_arrow, to_arrow, to_feed
from preprocessing._export import (
    ANALYZERS_FILE,
    EXAMPLES_INPUT,
    EXAMPLES_SIGNATURE,
    SERVING_SIGNATURE,
    export_to,
    export_transform_fn,
    output_column,
    parsing_spec,
    read_interface,
)
from preprocessing._local import run_in_memory
from preprocessing._metadata import schema_pbtxt, write_transformed_metadata
from preprocessing._planning import Plan, plan, plan_of
from preprocessing._runner import AnalyzerInputs
from preprocessing._tracing import Trace, apply_analyzer, trace
from preprocessing._transform_fn import TransformFn

__all__ = [
    "ANALYZERS_FILE",
    "EXAMPLES_INPUT",
    "EXAMPLES_SIGNATURE",
    "SERVING_SIGNATURE",
    "AnalyzerInputs",
    "Plan",
    "Trace",
    "TransformFn",
    "apply_analyzer",
    "arrow_type",
    "export_to",
    "export_transform_fn",
    "from_arrow",
    "output_column",
    "parsing_spec",
    "read_interface",
    "plan",
    "plan_of",
    "run_in_memory",
    "schema_pbtxt",
    "to_arrow",
    "to_feed",
    "trace",
    "write_transformed_metadata",
]
