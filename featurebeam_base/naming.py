"""One way to list allowed values and to suggest the nearest one for a typo."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def quote_all(values: Iterable) -> str:
    """``'a', 'b', 'c'``: allowed values, as messages list them."""
    return ", ".join(repr(v) for v in values)


def nearest(word, candidates: Iterable) -> str | None:
    """The candidate closest to ``word``, if one is close enough to be a typo of it."""
    matches = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word, candidates: Iterable, *, quote=repr) -> str:
    """`` (did you mean 'fare'?)``, or ``""`` when nothing is close.

    ``quote`` formats the suggestion: ``repr`` for values, a backtick quoting
    for keys and parameters (``lambda name: f"`{name}`"``).

    >>> did_you_mean("parqet", ["parquet", "csv"])
    " (did you mean 'parquet'?)"
    >>> did_you_mean("xml", ["parquet", "csv"])
    ''
    """
    near = nearest(word, candidates)
    return f" (did you mean {quote(near)}?)" if near else ""
