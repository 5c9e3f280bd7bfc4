"""Per-column statistics of a 2-D SparseTensor: ``reduce_instance_dims=False`` on list features.

tf.Transform reduces a SparseTensor elementwise per column index (the
position in the row), over the values present in that column. The number of
columns is the longest row, known only once the data is seen, so the
accumulators grow as wider batches arrive. Inputs are ``(columns, values)``:
each value with its column index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers._spec import AnalyzerSpec, Output
from featurebeam_base import checks

STATISTICS = ("mean_and_var", "min_and_max", "sum", "size")


def _pad(array: np.ndarray, width: int, fill) -> np.ndarray:
    if array.shape[0] >= width:
        return array
    return np.concatenate([array, np.full(width - array.shape[0], fill, array.dtype)])


def _extremes(dtype: np.dtype) -> tuple:
    """Identity values for a running (min, max): tf.Transform's empty-column results."""
    if dtype.kind == "f":
        return np.inf, -np.inf
    high = np.iinfo(dtype).max
    return high, -high


@dataclass(frozen=True)
class SparseColumnsSpec(AnalyzerSpec):
    """One statistic per column of a SparseTensor; outputs shaped ``[columns]``.

    ``statistic`` is ``mean_and_var`` (outputs ``mean``, ``var`` of the finite
    values, NaN for a column without any), ``min_and_max``, ``sum`` or ``size``.
    ``dtype`` is the values' dtype; ``output_dtype`` that of mean and var.
    """

    statistic: str
    dtype: str
    output_dtype: str = "float32"

    @property
    def kind(self) -> str:  # inspect shows the statistic, as for dense inputs
        return self.statistic

    def check(self):
        checks.choice(self.statistic, "statistic", STATISTICS)

    def outputs(self):
        names = {"mean_and_var": ("mean", "var"), "min_and_max": ("min", "max"), "sum": ("sum",), "size": ("size",)}
        dtype = {"mean_and_var": self.output_dtype, "size": "int64"}.get(self.statistic, self.dtype)
        return tuple(Output(name, dtype, (None,)) for name in names[self.statistic])

    def create(self):
        return {}

    def add(self, accumulator, inputs):
        columns = np.asarray(inputs[0], np.int64).ravel()
        values = np.asarray(inputs[1]).ravel()
        width = int(columns.max()) + 1 if columns.size else 0
        return self.merge(accumulator, getattr(self, f"_batch_{self.statistic}")(columns, values, width))

    def _batch_mean_and_var(self, columns, values, width):
        values = values.astype(np.float64)
        finite = np.isfinite(values)
        columns, values = columns[finite], values[finite]
        count = np.bincount(columns, minlength=width).astype(np.float64)
        total = np.bincount(columns, weights=values, minlength=width)
        mean = np.divide(total, count, out=np.zeros(width), where=count > 0)
        m2 = np.bincount(columns, weights=np.square(values - mean[columns]), minlength=width)
        return {"count": count, "mean": mean, "m2": m2}

    def _batch_min_and_max(self, columns, values, width):
        dtype = np.dtype(self.dtype)
        low, high = _extremes(dtype)
        keep = ~np.isnan(values) if dtype.kind == "f" else slice(None)
        minimum, maximum = np.full(width, low, dtype), np.full(width, high, dtype)
        np.minimum.at(minimum, columns[keep], values[keep])
        np.maximum.at(maximum, columns[keep], values[keep])
        return {"min": minimum, "max": maximum}

    def _batch_sum(self, columns, values, width):
        total = np.zeros(width, np.float64 if np.dtype(self.dtype).kind == "f" else np.int64)
        np.add.at(total, columns, values.astype(total.dtype))
        return {"sum": total}

    def _batch_size(self, columns, values, width):
        return {"size": np.bincount(columns, minlength=width).astype(np.int64)}

    def merge(self, accumulator, other):
        if not accumulator:
            accumulator.update(other)
            return accumulator
        width = max(len(next(iter(accumulator.values()))), len(next(iter(other.values()))))
        if self.statistic == "mean_and_var":
            a = {k: _pad(v, width, 0.0) for k, v in accumulator.items()}
            b = {k: _pad(v, width, 0.0) for k, v in other.items()}
            total = a["count"] + b["count"]
            safe = np.where(total > 0, total, 1.0)
            delta = b["mean"] - a["mean"]
            accumulator["mean"] = a["mean"] + delta * (b["count"] / safe)
            accumulator["m2"] = a["m2"] + b["m2"] + np.square(delta) * (a["count"] * b["count"] / safe)
            accumulator["count"] = total
        elif self.statistic == "min_and_max":
            low, high = _extremes(np.dtype(self.dtype))
            accumulator["min"] = np.minimum(_pad(accumulator["min"], width, low), _pad(other["min"], width, low))
            accumulator["max"] = np.maximum(_pad(accumulator["max"], width, high), _pad(other["max"], width, high))
        else:
            name = self.statistic
            accumulator[name] = _pad(accumulator[name], width, 0) + _pad(other[name], width, 0)
        return accumulator

    def extract(self, accumulator):
        if self.statistic == "mean_and_var":
            if not accumulator:
                empty = np.zeros(0, self.output_dtype)
                return empty, empty
            count = accumulator["count"]
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(count > 0, accumulator["mean"], np.nan)
                var = np.where(count > 0, accumulator["m2"] / count, np.nan)
            return mean.astype(self.output_dtype), var.astype(self.output_dtype)
        names = {"min_and_max": ("min", "max"), "sum": ("sum",), "size": ("size",)}[self.statistic]
        dtype = "int64" if self.statistic == "size" else self.dtype
        return tuple(np.asarray(accumulator.get(name, np.zeros(0)), dtype) for name in names)
