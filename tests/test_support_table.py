"""README's table of tf.Transform's names stays true against the installed tensorflow-transform.

Every name in ``tft.__all__`` and ``tft.experimental.__all__`` has one row. A
supported name exists in ``pp`` (or ``pp.experimental``) with tf.Transform's
signature, and the parity test files its row names call it as ``tx.NAME(``. A
name that is not supported (yet) is absent from ``pp``, or raises the error its
row quotes.
"""

from __future__ import annotations

import inspect
import os
import re

import pytest
import tensorflow as tf
import tensorflow_transform as tft

import preprocessing as pp
from preprocessing import engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = "## tf.Transform's names in featurebeam"
ROW = re.compile(r"^\| `([^`]+)` \| (supported|not supported|not supported yet \(in progress\)) \| (.+) \|$")


def read_table() -> list[tuple[str, str, str]]:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    assert SECTION in text, f"README.md has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            match = ROW.match(line)
            assert match, f"a row of the table does not read `name` | status | notes: {line}"
            rows.append(match.groups())
    return rows


TABLE = read_table()
STATUS = {name: status for name, status, _ in TABLE}
NOTES = {name: notes for name, _, notes in TABLE}


def tf_transform_names() -> list[str]:
    return sorted(tft.__all__) + sorted(f"experimental.{name}" for name in tft.experimental.__all__)


def resolve(module, name: str):
    *namespace, attribute = name.split(".")
    for part in namespace:
        module = getattr(module, part, None)
    return getattr(module, attribute, None) if module is not None else None


def test_every_name_of_tf_transform_has_one_row():
    names = [name for name, _, _ in TABLE]
    assert len(names) == len(set(names)), "a name is listed twice"
    assert sorted(names) == sorted(tf_transform_names())


def names_with(status: str) -> list[str]:
    return [name for name in tf_transform_names() if STATUS.get(name) == status]


@pytest.mark.parametrize("name", names_with("supported"))
def test_a_supported_name_has_tf_transforms_signature(name):
    ours, theirs = resolve(pp, name), resolve(tft, name)
    assert ours is not None, f"the table says pp.{name} is supported, but it does not exist"
    ours, theirs = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
    assert list(ours) == list(theirs)
    for parameter, reference in zip(ours.values(), theirs.values()):
        assert parameter.kind == reference.kind, parameter.name
        assert parameter.default == reference.default, parameter.name


@pytest.mark.parametrize("name", names_with("supported"))
def test_a_supported_name_is_compared_with_tf_transform_in_the_tests_named(name):
    files = re.findall(r"`(tests/[\w/]+\.py)`", NOTES[name])
    assert files, f"the row of {name} names no parity test file"
    for path in files:
        with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
            assert f"tx.{name}(" in handle.read(), f"{path} does not call tx.{name}("


# How to call each name that exists in pp but is not supported, to see its error.
CALLS = {"apply_pyfunc": lambda x: pp.apply_pyfunc(abs, tf.float32, False, "abs", x)}


@pytest.mark.parametrize("name", names_with("not supported"))
def test_a_name_not_supported_is_absent_or_raises_the_error_quoted(name):
    if resolve(pp, name) is None:
        return
    assert name in CALLS, f"pp.{name} exists, but the table says it is not supported: how does it fail?"
    quoted = re.findall(r"raises `([^`]+)`", NOTES[name])
    assert quoted, f"the row of {name} quotes no error"
    with pytest.raises(pp.PreprocessingError) as caught:
        engine.trace(lambda inputs: {"y": CALLS[name](inputs["x"])}, pp.Schema.of({"x": "float"}))
    assert str(caught.value).startswith(quoted[0])


@pytest.mark.parametrize("name", names_with("not supported yet (in progress)"))
def test_a_name_in_progress_is_absent(name):
    assert resolve(pp, name) is None, f"pp.{name} exists now: make its row 'supported', with its parity tests"
