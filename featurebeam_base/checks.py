"""Argument checks in the one message shape: ``must be an integer >= 1; got 0``.

Each check returns the value (normalised) or raises ``ArgumentError(argument,
problem)``:

>>> integer(3, "num_buckets", minimum=1)
3
>>> integer(0, "num_buckets", minimum=1)
Traceback (most recent call last):
...
featurebeam_base.errors.ArgumentError: `num_buckets` must be an integer >= 1; got 0

 ``pp`` functions and analyzer specs use them while a
preprocessing_fn is traced, so a bad argument is reported on the machine that
launches the job, naming the function the user called.
"""

from __future__ import annotations

from collections.abc import Collection

from featurebeam_base.errors import ArgumentError
from featurebeam_base.naming import did_you_mean, quote_all


def _is_int(value) -> bool:
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer(value, argument: str, *, minimum: int | None = None, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    allowed = "an integer" if minimum is None else f"an integer >= {minimum}"
    if not _is_int(value) or (minimum is not None and value < minimum):
        raise ArgumentError(argument, f"must be {allowed}; got {value!r}")
    return int(value)


def number(
    value,
    argument: str,
    *,
    above: float | None = None,
    below: float | None = None,
    optional: bool = False,
) -> float | None:
    """A real number, strictly between ``above`` and ``below`` when they are given."""
    if value is None and optional:
        return None
    if above is not None and below is not None:
        allowed = f"a number in ({above:g}, {below:g})"
    elif above is not None:
        allowed = f"a number > {above:g}"
    else:
        allowed = "a number"
    ok = _is_number(value) and (above is None or value > above) and (below is None or value < below)
    if not ok:
        raise ArgumentError(argument, f"must be {allowed}; got {value!r}")
    return float(value)


def boolean(value, argument: str) -> bool:
    import numpy as np

    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(argument, f"must be True or False; got {value!r}")
    return bool(value)


def choice(value, argument: str, choices: Collection):
    if value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise ArgumentError(argument, f"must be one of {quote_all(choices)}; got {value!r}{hint}")
    return value


def text(value, argument: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ArgumentError(argument, f"must be a non-empty string; got {value!r}")
    return value
