"""Tracing a preprocessing_fn into a TensorFlow graph.

A preprocessing_fn is traced in TF1 graph mode over one placeholder per raw
feature. Every analyzer goes through ``apply_analyzer``, the one generic way
to apply a spec: it records an ``AnalyzerCall`` (the spec and the tensors it
consumes) and returns one tensor per output the spec declares: a constant
when the result is already known (``values``), a placeholder otherwise. A
vocabulary output is the path of its file, as in tf.Transform.
Analyzers are keyed by their name scope relative to the trace root, so the
same preprocessing_fn traced again (in another process, in another scope)
gives every analyzer the same key.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from analyzers import AnalyzerSpec, Output, write_vocabulary_file
from featurebeam_base import types
from featurebeam_base.errors import PreprocessingError
from preprocessing._schema import Feature, Schema

_LOCAL = threading.local()


@dataclass(frozen=True)
class AnalyzerCall:
    """One analyzer in a traced graph: what it computes, from which tensors."""

    spec: AnalyzerSpec
    inputs: tuple[tf.Tensor, ...]
    outputs: tuple[tf.Tensor, ...]

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass
class _TraceContext:
    graph: tf.Graph
    values: Mapping[str, tuple]
    asset_dir: str | None
    scope_root: str
    calls: list[AnalyzerCall] = field(default_factory=list)
    # vocabulary filename tensor -> tokens (known), None (unknown) or asset path tensor (export)
    vocabularies: dict = field(default_factory=dict)
    vocabulary_sizes: dict = field(default_factory=dict)  # filename tensor ref -> number of entries
    vocabulary_formats: dict = field(default_factory=dict)  # filename tensor ref -> 'text' or 'tfrecord_gzip'
    sizes_by_name: dict = field(default_factory=dict)  # vocabulary name -> its annotated size tensor
    asset_paths: dict[str, str] = field(default_factory=dict)  # vocabulary file name -> path written
    # output tensor ref -> (min, max) of a categorical int result, for the output schema: Python ints,
    # or int64 tensors (known once the vocabulary is), or None (its analyzer has not run yet)
    int_domains: dict = field(default_factory=dict)

    def key_here(self) -> str:
        scope = self.graph.get_name_scope()
        if self.scope_root and scope.startswith(self.scope_root + "/"):
            scope = scope[len(self.scope_root) + 1 :]
        return scope


def current_context() -> _TraceContext:
    context = getattr(_LOCAL, "context", None)
    if context is None or tf.compat.v1.get_default_graph() is not context.graph:
        raise PreprocessingError(
            "featurebeam analyzers (pp.mean, pp.vocabulary, ...) can only be called inside a "
            "preprocessing_fn that featurebeam is tracing"
        )
    return context


def apply_analyzer(spec: AnalyzerSpec, inputs: list[tf.Tensor]) -> list[tf.Tensor]:
    """Record ``spec`` in the current trace; return one tensor per output it declares.

    Must be called inside the analyzer's own name scope, which becomes its key.
    """
    context = current_context()
    spec = spec.with_key(context.key_here())
    known = context.values.get(spec.key)
    tensors = []
    for index, output in enumerate(spec.outputs()):
        value = None if known is None else known[index]
        if output.vocabulary_file is not None:
            tensors.append(_vocabulary_file(context, output, value))
        elif value is None:
            tensors.append(tf.compat.v1.placeholder(output.dtype, output.shape, name=f"analyzer_output_{index}"))
        else:
            tensors.append(tf.constant(np.asarray(value), output.dtype))
    context.calls.append(AnalyzerCall(spec, tuple(inputs), tuple(tensors)))
    return tensors


def _vocabulary_file(context: _TraceContext, output: Output, tokens) -> tf.Tensor:
    """The vocabulary's file name: unknown (a placeholder), in memory, or an asset when exporting."""
    if tokens is None:
        filename = tf.compat.v1.placeholder(tf.string, [], name="vocabulary_file")
        context.vocabularies[filename.ref()] = None
    elif context.asset_dir is not None:
        filename = _vocabulary_asset(context, output, tokens)
        context.vocabularies[filename.ref()] = filename
    else:
        filename = tf.constant(output.vocabulary_file, tf.string, name="vocabulary_file")
        context.vocabularies[filename.ref()] = np.asarray(tokens, dtype=object)
    if tokens is not None:
        context.vocabulary_sizes[filename.ref()] = len(tokens)
    context.vocabulary_formats[filename.ref()] = output.vocabulary_format
    return filename


def write_vocabulary(path: str, entries, file_format: str) -> None:
    """A vocabulary file as tf.Transform writes it: text lines, or GZIP TFRecords of the same bytes."""
    if file_format == "text":
        write_vocabulary_file(path, entries)
        return
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for entry in entries:
            writer.write(entry if isinstance(entry, bytes) else str(entry).encode())


def _vocabulary_asset(context: _TraceContext, output: Output, tokens) -> tf.Tensor:
    vocab_filename = output.vocabulary_file
    if vocab_filename not in context.asset_paths:
        path = os.path.join(context.asset_dir, vocab_filename)
        write_vocabulary(path, tokens, output.vocabulary_format)
        context.asset_paths[vocab_filename] = path
    path_tensor = tf.constant(context.asset_paths[vocab_filename], tf.string, name="vocabulary_file")
    tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.ASSET_FILEPATHS, path_tensor)
    return path_tensor


def lookup_vocabulary(filename: tf.Tensor):
    """What the trace knows of a vocabulary filename tensor.

    Returns ``("unknown", None)``, ``("tokens", array)``, ``("asset", tensor)`` or
    ``("file", tensor)`` for a filename the preprocessing_fn made itself.
    """
    context = current_context()
    ref = filename.ref() if isinstance(filename, tf.Tensor) else None
    if ref is None or ref not in context.vocabularies:
        return "file", tf.convert_to_tensor(filename, tf.string)
    entry = context.vocabularies[ref]
    if entry is None:
        return "unknown", None
    if isinstance(entry, tf.Tensor):
        return "asset", entry
    return "tokens", entry


def vocabulary_size(filename) -> int | None:
    """Number of entries of a known vocabulary, or None."""
    if not isinstance(filename, tf.Tensor):
        return None
    return current_context().vocabulary_sizes.get(filename.ref())


def vocabulary_format(filename) -> str | None:
    """``text`` or ``tfrecord_gzip`` for a vocabulary the preprocessing_fn computed, else None."""
    if not isinstance(filename, tf.Tensor):
        return None
    return current_context().vocabulary_formats.get(filename.ref())


_IN_MEMORY_FILES: dict[str, str] = {}


def _in_memory_directory() -> str:
    if "" not in _IN_MEMORY_FILES:
        directory = tempfile.mkdtemp(prefix="featurebeam_vocabularies_")
        atexit.register(shutil.rmtree, directory, True)
        _IN_MEMORY_FILES[""] = directory
    return _IN_MEMORY_FILES[""]


def vocabulary_path(filename: tf.Tensor, entries, file_format: str) -> tf.Tensor:
    """A path holding a vocabulary known in memory, for code that reads files (a user's ``lookup_fn``).

    Written once per process and content into a temporary folder removed at exit.
    """
    digest = hashlib.sha1(file_format.encode() + b"\0" + b"\n".join(entries)).hexdigest()
    if digest not in _IN_MEMORY_FILES:
        path = os.path.join(_in_memory_directory(), digest)
        write_vocabulary(path + ".tmp", entries, file_format)
        os.replace(path + ".tmp", path)
        _IN_MEMORY_FILES[digest] = path
    return tf.constant(_IN_MEMORY_FILES[digest], tf.string, name="vocabulary_path")


def register_vocabulary_size(name: str, size: tf.Tensor) -> None:
    """Record a vocabulary's annotated size under the name ``get_vocabulary_size_by_name`` takes."""
    current_context().sizes_by_name[name] = size


def vocabulary_size_by_name(name: str) -> tf.Tensor | None:
    return current_context().sizes_by_name.get(name)


def last_spec() -> AnalyzerSpec:
    """The (keyed) spec of the analyzer applied last in this trace."""
    return current_context().calls[-1].spec


def annotate_int_domain(tensor: tf.Tensor, minimum, maximum) -> None:
    """Record that ``tensor`` is categorical in ``[minimum, maximum]`` (tf.Transform's int_domain).

    The bounds are ints, int64 tensors known once the analyzers they depend on
    have run, or None while they have not (the tensor's domain exists but is
    not known yet).
    """
    if isinstance(minimum, tf.Tensor) or isinstance(maximum, tf.Tensor):
        bounds = (tf.cast(minimum, tf.int64), tf.cast(maximum, tf.int64))
    elif minimum is None or maximum is None:
        bounds = None
    else:
        bounds = (int(minimum), int(maximum))
    current_context().int_domains[tensor.ref()] = bounds


def int_domain_of(tensor) -> tuple | None:
    """``(min, max)`` recorded for ``tensor`` (a list tensor's values), or raise if none was."""
    values = tensor.values if isinstance(tensor, tf.SparseTensor) else tensor
    values = values.flat_values if isinstance(values, tf.RaggedTensor) else values
    domains = current_context().int_domains
    if not isinstance(values, tf.Tensor) or values.ref() not in domains:
        raise KeyError(tensor)
    return domains[values.ref()]


def resolve_int_domains(session, domains: dict) -> dict:
    """Int domains with their tensor bounds evaluated (in a session whose tables are initialized)."""
    resolved = {}
    for name, bounds in domains.items():
        if bounds is not None and isinstance(bounds[0], tf.Tensor):
            bounds = tuple(int(v) for v in session.run(list(bounds)))
        resolved[name] = bounds
    return resolved


class _FeatureReader(Mapping):
    """The ``inputs`` dict handed to a preprocessing_fn; records what it reads."""

    def __init__(self, tensors: Mapping[str, tf.Tensor]):
        self._tensors = dict(tensors)
        self.read: list[str] = []

    def __getitem__(self, name):
        if name not in self._tensors:
            available = ", ".join(sorted(self._tensors))
            raise PreprocessingError(
                f"preprocessing_fn reads feature {name!r}, which the data does not have; "
                f"available features: {available}"
            )
        if name not in self.read:
            self.read.append(name)
        return self._tensors[name]

    def __iter__(self):
        return iter(self._tensors)

    def __len__(self):
        return len(self._tensors)

    def copy(self):
        # The copy escapes tracking: count every feature as read.
        for name in self._tensors:
            if name not in self.read:
                self.read.append(name)
        return dict(self._tensors)


@dataclass
class Trace:
    """A traced preprocessing_fn: its graph, inputs, outputs and analyzers."""

    graph: tf.Graph
    inputs: dict[str, tf.Tensor]
    outputs: dict[str, tf.Tensor]
    calls: list[AnalyzerCall]
    features_read: list[str]
    # output name -> (min, max): ints, or int64 tensors to evaluate once tables are initialized
    int_domains: dict[str, tuple] = field(default_factory=dict)


def call_preprocessing_fn(
    preprocessing_fn: Callable,
    features: Mapping[str, tf.Tensor],
    values: Mapping[str, tuple] | None = None,
    asset_dir: str | None = None,
    scope: str = "transform",
) -> Trace:
    """Call ``preprocessing_fn`` on ``features`` in the current graph, inside a fresh ``scope``.

    Analyzer keys are name scopes relative to ``scope``. Every trace calls the
    fn in a scope of its own, so the user's ``name=`` arguments (even one equal
    to a feature's name) give the same keys in every trace.
    """
    graph = tf.compat.v1.get_default_graph()
    reader = _FeatureReader(features)
    previous = getattr(_LOCAL, "context", None)
    with tf.compat.v1.name_scope(scope + "/") as root:
        context = _TraceContext(graph, values or {}, asset_dir, root.rstrip("/"))
        _LOCAL.context = context
        try:
            outputs = preprocessing_fn(reader)
        finally:
            _LOCAL.context = previous
    outputs = _check_outputs(outputs)
    inputs = {name: features[name] for name in reader.read}
    domains = {
        name: context.int_domains[ref]
        for name, ref in _value_refs(outputs).items()
        if context.int_domains.get(ref) is not None
    }
    return Trace(graph, inputs, outputs, context.calls, list(reader.read), domains)


def _value_refs(outputs: Mapping) -> dict:
    """Each output's values tensor (a list output's flat values), by which int domains are recorded."""
    refs = {}
    for name, tensor in outputs.items():
        if isinstance(tensor, tf.SparseTensor):
            tensor = tensor.values
        elif isinstance(tensor, tf.RaggedTensor):
            tensor = tensor.flat_values
        refs[name] = tensor.ref()
    return refs


def _check_output(name, tensor) -> None:
    if isinstance(tensor, tf.SparseTensor):
        if tensor.shape.rank != 2:
            raise PreprocessingError(
                f"preprocessing_fn output {name!r} must be a 2-D SparseTensor ([batch, values]); "
                f"got rank {tensor.shape.rank}"
            )
    elif isinstance(tensor, tf.RaggedTensor):
        if tensor.ragged_rank != 1 or tensor.flat_values.shape.rank != 1:
            raise PreprocessingError(
                f"preprocessing_fn output {name!r} must be a RaggedTensor of shape [batch, None]; got {tensor.shape}"
            )
    elif not isinstance(tensor, tf.Tensor):
        raise PreprocessingError(
            f"preprocessing_fn output {name!r} must be a tf.Tensor, tf.SparseTensor or tf.RaggedTensor; "
            f"got {type(tensor).__name__}"
        )
    elif tensor.shape.rank is None or tensor.shape.rank < 1:
        raise PreprocessingError(
            f"preprocessing_fn output {name!r} must have a batch dimension; got shape {tensor.shape}"
        )


def _check_outputs(outputs) -> dict:
    if not isinstance(outputs, Mapping) or not outputs:
        raise PreprocessingError(
            f"preprocessing_fn must return a non-empty dict of output name -> tensor; got {type(outputs).__name__}"
        )
    checked = {}
    for name, tensor in outputs.items():
        if not isinstance(name, str):
            raise PreprocessingError(f"preprocessing_fn output names must be strings; got {name!r}")
        _check_output(name, tensor)
        checked[name] = tensor
    return checked


def raw_placeholder(feature: Feature):
    """The tensor a raw feature arrives as: ``[batch]``, ``[batch, k]``, a SparseTensor or a RaggedTensor."""
    name = _safe_op_name(feature.name)
    if feature.shape == types.VARLEN:
        return tf.compat.v1.sparse_placeholder(feature.tf_dtype, [None, None], name=name)
    if feature.shape == types.RAGGED:
        return tf.compat.v1.ragged.placeholder(feature.tf_dtype, ragged_rank=1, value_shape=[], name=name)
    return tf.compat.v1.placeholder(feature.tf_dtype, [None, *feature.shape], name=name)


def raw_placeholders(schema: Schema) -> dict:
    """One placeholder per raw feature, named after it (in scope ``inputs``)."""
    with tf.compat.v1.name_scope("inputs/"):
        return {f.name: raw_placeholder(f) for f in schema.features}


def _safe_op_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    if not cleaned or not (cleaned[0].isascii() and (cleaned[0].isalnum() or cleaned[0] == ".")):
        cleaned = "f_" + cleaned
    return cleaned


def trace(
    preprocessing_fn: Callable,
    schema: Schema,
    values: Mapping[str, tuple] | None = None,
    asset_dir: str | None = None,
) -> Trace:
    """Trace ``preprocessing_fn`` in a new graph over placeholders for ``schema``."""
    graph = tf.Graph()
    with graph.as_default():
        return call_preprocessing_fn(preprocessing_fn, raw_placeholders(schema), values, asset_dir)
