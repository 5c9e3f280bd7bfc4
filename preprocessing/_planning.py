"""Phase planning: which analyzers can run in which pass over the data.

An analyzer whose inputs depend on another analyzer's result must wait for it.
Tracing with every result unknown turns each result into a placeholder; a walk
over the graph finds, for every analyzer input, the placeholders it depends on.
Phase 0 holds the analyzers that depend on none; phase ``p`` those whose
latest dependency is in phase ``p - 1``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

from analyzers import AnalyzerSpec
from featurebeam_base.errors import PreprocessingError
from preprocessing._schema import Schema
from preprocessing._tracing import Trace, trace


@dataclass(frozen=True)
class Plan:
    """The analyzers of a preprocessing_fn grouped into passes over the data."""

    phases: tuple[tuple[AnalyzerSpec, ...], ...]
    features_read: tuple[str, ...]
    output_names: tuple[str, ...]

    @property
    def specs(self) -> list[AnalyzerSpec]:
        return [spec for phase in self.phases for spec in phase]

    def records(self, values: dict) -> list[dict]:
        """What every analyzer learned, as ``analyzers.json`` records it, in phase order."""
        return [spec.record(values[spec.key], phase) for phase, specs in enumerate(self.phases) for spec in specs]


def _dependencies_by_op(graph: tf.Graph, owner_of_op: dict[str, str]) -> dict[str, frozenset[str]]:
    """For every op, the analyzer keys whose results it (transitively) depends on."""
    deps: dict[str, frozenset[str]] = {}
    for op in graph.get_operations():  # creation order is a topological order
        found = set()
        for tensor in op.inputs:
            found |= deps.get(tensor.op.name, frozenset())
        for control in op.control_inputs:
            found |= deps.get(control.name, frozenset())
        if op.name in owner_of_op:
            found.add(owner_of_op[op.name])
        deps[op.name] = frozenset(found)
    return deps


def phases_of(traced: Trace) -> dict[str, int]:
    """Phase index of every analyzer key in a trace made with no known values."""
    owner_of_op = {t.op.name: call.key for call in traced.calls for t in call.outputs}
    deps = _dependencies_by_op(traced.graph, owner_of_op)
    phase: dict[str, int] = {}
    for call in traced.calls:  # an analyzer only depends on analyzers called before it
        needed = set().union(*(deps[t.op.name] for t in call.inputs)) if call.inputs else set()
        phase[call.key] = 1 + max((phase[k] for k in needed), default=-1)
    return phase


_SIGNATURE_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-]*")


def _check_signature_names(features_read) -> None:
    # Each feature read becomes a named input of the SavedModel's serving signature.
    for name in features_read:
        if not _SIGNATURE_NAME.fullmatch(name):
            raise PreprocessingError(
                f"feature {name!r} cannot be an input of a SavedModel signature: a name must start "
                f"with a letter, digit or '.', and hold only letters, digits, '_', '.' and '-'; "
                f"rename the column (e.g. {re.sub(r'[^A-Za-z0-9_.-]', '_', name).lstrip('_') or 'feature'!r})"
            )


def plan(preprocessing_fn: Callable, schema: Schema) -> Plan:
    """Trace ``preprocessing_fn`` once and group its analyzers into phases."""
    return plan_of(trace(preprocessing_fn, schema))


def plan_of(traced: Trace) -> Plan:
    """The phases of a trace made with no known values (as ``trace(fn, schema)`` makes)."""
    _check_signature_names(traced.features_read)
    phase = phases_of(traced)
    count = 1 + max(phase.values(), default=-1)
    phases = tuple(tuple(c.spec for c in traced.calls if phase[c.key] == p) for p in range(count))
    return Plan(phases, tuple(traced.features_read), tuple(traced.outputs))
