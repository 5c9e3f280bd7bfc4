"""Preparing a job: everything that can be checked before a pipeline is built.

The input files and their schema are resolved by the caller; here the
preprocessing_fn is loaded (or compiled from ``features:``), traced and
planned, or an existing transform_fn's signature is read. Every problem found
is a user error, raised on the launching machine.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from apache_beam.io.filesystems import FileSystems

import preprocessing as pp
from beam_jobs._declarative import DeclarativeFn
from beam_jobs._filesystem import local_copy
from beam_jobs._job import JobConfig
from beam_jobs._layout import TRANSFORM_FN_DIR
from beam_jobs._user_code import load_preprocessing_fn, raised_by_user_code, user_traceback
from featurebeam_base.columns import OutputColumn
from featurebeam_base.errors import ConfigError, InputError, UserError
from featurebeam_base.naming import quote_all
from featurebeam_base.paths import is_remote, local_path
from preprocessing import engine


@dataclass
class Prepared:
    """What the pipeline needs, all checked before it is built."""

    schema: pp.Schema  # the columns read: those the preprocessing_fn (or transform_fn) uses
    outputs: list[OutputColumn]
    fn: Callable | None = None
    plan: engine.Plan | None = None
    source_output: str | None = None  # `transform`: the output holding the transform_fn applied
    notes: list[str] = field(default_factory=list)


def preprocessing_fn_of(job: JobConfig) -> Callable:
    """The job's preprocessing_fn: loaded from its reference, or compiled from ``features``."""
    if job.features is not None:
        return DeclarativeFn(job.features)
    return load_preprocessing_fn(job.preprocessing_fn, job.base_dir)


def trace_and_plan(fn: Callable, schema: pp.Schema) -> tuple[engine.Plan, engine.Trace]:
    """Trace ``fn`` once and plan its phases; the fn's own errors are the user's to fix."""
    try:
        traced = engine.trace(fn, schema)
        return engine.plan_of(traced), traced
    except ConfigError:
        raise
    except UserError as error:
        raise ConfigError(f"preprocessing_fn: {error}", error.details) from None
    except Exception as error:
        if not raised_by_user_code(error):
            raise
        raise ConfigError(
            f"preprocessing_fn raised {type(error).__name__}: {error}", details=user_traceback(error)
        ) from None


def prepare_analysis(job: JobConfig, resolved) -> Prepared:
    fn = preprocessing_fn_of(job)
    if isinstance(fn, DeclarativeFn):
        fn.check_schema(resolved.types)
    plan, traced = trace_and_plan(fn, resolved.to_schema())
    outputs = []
    for name, tensor in traced.outputs.items():
        if not tensor.shape[1:].is_fully_defined():
            raise ConfigError(f"preprocessing_fn output {name!r} must have a fixed shape per row; got {tensor.shape}")
        outputs.append(engine.output_column(name, tensor))
    return Prepared(resolved.to_schema(plan.features_read), outputs, fn=fn, plan=plan)


def transform_fn_output_dir(path: str) -> str:
    """The output directory holding ``transform_fn/``, given it or the transform_fn itself."""
    problem = f"`--transform-fn` must be a featurebeam output (a folder with transform_fn/); got {path}"
    if is_remote(path):
        path = path.rstrip("/")
        if FileSystems.exists(FileSystems.join(path, TRANSFORM_FN_DIR, "saved_model.pb")):
            return path
        if path.endswith("/" + TRANSFORM_FN_DIR) and FileSystems.exists(FileSystems.join(path, "saved_model.pb")):
            return FileSystems.split(path)[0]
        raise ConfigError(problem)
    path = os.path.abspath(local_path(path))
    if os.path.isdir(os.path.join(path, TRANSFORM_FN_DIR)):
        return path
    if os.path.isfile(os.path.join(path, "saved_model.pb")) and os.path.basename(path) == TRANSFORM_FN_DIR:
        return os.path.dirname(path)
    raise ConfigError(f"`--transform-fn` must be a featurebeam output (a folder with transform_fn/); got {path}")


def prepare_transform(job: JobConfig, resolved, transform_fn: str) -> Prepared:
    source = transform_fn_output_dir(transform_fn)
    local_transform_fn = local_copy(FileSystems.join(source, TRANSFORM_FN_DIR))
    read, outputs = engine.read_interface(local_transform_fn)
    features = []
    for feature in read:
        if feature.name not in resolved.types:
            raise InputError(
                f"the transform_fn reads column {feature.name!r}, which the input does not have; "
                f"columns: {quote_all(resolved.types)}"
            )
        features.append(dataclasses.replace(feature, default=resolved.defaults.get(feature.name)))
    return Prepared(pp.Schema(tuple(features)), outputs, source_output=source)
