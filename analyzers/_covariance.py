"""``covariance`` and ``pca``: the (biased) covariance matrix of row vectors, and its principal axes.

The accumulator holds the count, the mean vector and the matrix of centred
cross products in float64, merged with Chan et al.'s pairwise update; it never
forms ``E[x x^T] - mean mean^T`` (tf.Transform's one-pass formula, which loses
precision when the mean is large compared with the spread). Results equal
tf.Transform's up to rounding: covariance divides by N (``ddof=0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers._spec import Output, SingleInputSpec
from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError


class CoMomentsAccumulator:
    """Count, mean and centred cross products of ``[n, d]`` row vectors. NaN propagates."""

    __slots__ = ("count", "mean", "comoment")

    def __init__(self, dimension: int):
        self.count = 0
        self.mean = np.zeros(dimension, np.float64)
        self.comoment = np.zeros((dimension, dimension), np.float64)

    def add(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, np.float64).reshape(-1, self.mean.size)
        if rows.shape[0] == 0:
            return
        mean = rows.mean(axis=0)
        centred = rows - mean
        self._combine(rows.shape[0], mean, centred.T @ centred)

    def merge(self, other: CoMomentsAccumulator) -> None:
        if other.count:
            self._combine(other.count, other.mean, other.comoment)

    def _combine(self, count: int, mean: np.ndarray, comoment: np.ndarray) -> None:
        total = self.count + count
        delta = mean - self.mean
        self.comoment = self.comoment + comoment + np.outer(delta, delta) * (self.count * count / total)
        self.mean = self.mean + delta * (count / total)
        self.count = total

    def covariance(self) -> np.ndarray:
        """The biased covariance (divided by N); zeros when nothing was added."""
        if self.count == 0:
            return np.zeros_like(self.comoment)
        return self.comoment / self.count


def _check_float_dtype(dtype: str) -> None:
    if np.dtype(dtype).kind != "f":
        raise ArgumentError("dtype", f"must be a floating dtype (tf.float16, tf.float32, tf.float64); got tf.{dtype}")


@dataclass(frozen=True)
class CovarianceSpec(SingleInputSpec):
    """Covariance of ``dimension``-vectors; outputs ``(covariance,)``, ``[d, d]`` in ``dtype``."""

    kind = "covariance"
    dimension: int
    dtype: str

    def check(self):
        checks.integer(self.dimension, "x", minimum=1)
        _check_float_dtype(self.dtype)

    def outputs(self):
        return (Output("covariance", self.dtype, (self.dimension, self.dimension)),)

    def create(self):
        return CoMomentsAccumulator(self.dimension)

    def extract(self, accumulator):
        return (accumulator.covariance().astype(self.dtype),)


@dataclass(frozen=True)
class PCASpec(CovarianceSpec):
    """Principal axes: outputs ``(components,)``, ``[d, output_dim]`` in ``dtype``.

    Column ``j`` is the eigenvector of the covariance with the ``j``-th largest
    eigenvalue, as numpy's ``eigh`` returns it (its sign is not normalized,
    as in tf.Transform). An empty dataset gives the identity's first columns.
    """

    kind = "pca"
    output_dim: int

    def check(self):
        super().check()
        checks.integer(self.output_dim, "output_dim", minimum=1)
        if self.output_dim > self.dimension:
            raise ArgumentError(
                "output_dim", f"must be at most the number of columns of `x` ({self.dimension}); got {self.output_dim}"
            )

    def outputs(self):
        return (Output("components", self.dtype, (self.dimension, self.output_dim)),)

    def extract(self, accumulator):
        if accumulator.count == 0:
            return (np.eye(self.dimension, self.output_dim, dtype=self.dtype),)
        # numpy's eigh has no float16: decompose in float32 at least.
        working = np.promote_types(self.dtype, np.float32)
        eigenvalues, eigenvectors = np.linalg.eigh(accumulator.covariance().astype(working))
        descending = np.argsort(eigenvalues)[::-1]  # equal eigenvalues: the later column first, as tf.Transform
        return (eigenvectors[:, descending[: self.output_dim]].astype(self.dtype),)
