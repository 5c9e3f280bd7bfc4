"""Bad records: records that cannot be read, failed on or set aside (``input.on_bad_record``)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pyarrow as pa

from featurebeam_base import types
from featurebeam_base.errors import InputError


@dataclass(frozen=True)
class BadRecord:
    """A record that cannot be read: where it is, why, and its raw content when there is one.

    ``unit`` is what ``number`` counts, from 1: a ``line`` of a CSV or JSON Lines
    file, a ``row`` of a Parquet file, a ``record`` of a TFRecord file.
    ``number`` is None when the whole file is unreadable. ``rows`` is how many
    rows the entry stands for: 1 for a line, row or record, the undecodable rest
    of a Parquet row group, or None when nobody can tell (a truncated file).
    """

    path: str
    unit: str
    number: int | None
    reason: str
    raw: str | bytes | None = None
    rows: int | None = 1

    def message(self) -> str:
        where = f"{self.unit} {self.number}: " if self.number is not None else ""
        return f"{self.path}: {where}{self.reason}"

    def to_json(self) -> str:
        """One line of ``OUTPUT/rejected/part-*.jsonl``."""
        entry: dict[str, object] = {"file": self.path}
        if self.number is not None:
            entry[self.unit] = self.number
        entry["reason"] = self.reason
        entry["rows"] = self.rows
        if isinstance(self.raw, bytes):
            entry["raw_base64"] = base64.b64encode(self.raw).decode("ascii")
        elif self.raw is not None:
            entry["raw"] = self.raw
        return json.dumps(entry, ensure_ascii=False)


class BadRecords:
    """What a reader does with a record it cannot read (``input.on_bad_record``).

    ``fail``: ``reject`` raises InputError naming the file and the place.
    ``skip``: ``reject`` sets the record aside, and ``take`` hands over the
    records set aside so far. Readers never drop a record any other way.
    """

    def __init__(self, skip: bool = False):
        self.skip = skip
        self._rejected: list[BadRecord] = []

    def reject(self, bad: BadRecord) -> None:
        if not self.skip:
            raise InputError(bad.message())
        self._rejected.append(bad)

    def take(self) -> list[BadRecord]:
        taken, self._rejected = self._rejected, []
        return taken


def _failing_positions(array: pa.Array, convert, *, first_only: bool = False) -> list[int]:
    """Positions of the values ``convert`` rejects (raises ArrowInvalid on), found by bisection.

    Costs O(k log n) vectorized calls for k bad values among n.
    """

    def search(start: int, stop: int) -> list[int]:
        try:
            convert(array.slice(start, stop - start))
            return []
        except pa.ArrowInvalid:
            if stop - start == 1:
                return [start]
        middle = (start + stop) // 2
        left = search(start, middle)
        if first_only and left:
            return left
        return left + search(middle, stop)

    return search(0, len(array)) if len(array) else []


def _shown(value) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            pass  # shown as bytes: b'\xff'
    return repr(value)


def _a(feature_type: str) -> str:
    return types.feature_type(feature_type).noun
