"""The Tukey HH distribution's L-moments, and its h parameters from an L-skewness and L-kurtosis.

A Tukey HH variable is ``X = Z exp(h Z^2 / 2)`` for a standard normal ``Z``,
with ``h = hl`` where ``Z < 0`` and ``h = hr`` where ``Z >= 0`` (``0 <= h < 1``).
Its ``k``-th L-moment is ``E[X P_{k-1}(Phi(Z))]`` with the shifted Legendre
polynomials ``P``; each half of the line contributes a closed form. Writing
``c = 1 - h`` and ``s = sqrt(2 - h)``, integration by parts and the Gaussian
integrals of ``erf`` give, for the half ``Z >= 0``::

    R1(h) = 1 / (sqrt(2 pi) c)
    R2(h) = 1 / (sqrt(2 pi) c s)
    R3(h) = (6 atan(1 / s) / (pi s) - 1/2) / (sqrt(2 pi) c)
    R4(h) = (15 atan(1 / (s sqrt(4 - h))) / (pi s) - 3 / (2 s)) / (sqrt(2 pi) c)

and by symmetry the half ``Z < 0`` contributes ``(-1)^k R_k(hl)``:
``L1 = R1(hr) - R1(hl)``, ``L2 = R2(hr) + R2(hl)``, ``L3 = R3(hr) - R3(hl)``,
``L4 = R4(hr) + R4(hl)`` (Headrick and Pant, "Characterizing Tukey h and
hh-Distributions through L-Moments and the L-Correlation", 2012, give the same
values). At ``h = 0`` the L-kurtosis ``L4 / L2`` is the normal's, 0.1226.

``h_params`` inverts ``(hl, hr) -> (L3 / L2, L4 / L2)`` by nested bisection:
for a given ``hr`` the L-skewness falls as ``hl`` grows (so ``hl`` is found
by bisection), and along that curve the L-kurtosis grows with ``hr``.
"""

from __future__ import annotations

import numpy as np

# Below the normal distribution's L-kurtosis the data has no long tails: h = 0
# (tf.Transform's threshold).
GAUSSIAN_L_KURTOSIS = 0.1226017
MAX_L_KURTOSIS = 1.0 - 1e-5
MAX_H = 1.0 - 1e-7
_BISECTIONS = 45  # halves an interval of width <= 1 to below 3e-14
_ROOT_2PI = np.sqrt(2.0 * np.pi)


def _half_moments(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``R1 .. R4`` of the half ``Z >= 0`` with parameter ``h`` (see the module docstring)."""
    h = np.asarray(h, np.float64)
    c = 1.0 - h
    s = np.sqrt(2.0 - h)
    base = 1.0 / (_ROOT_2PI * c)
    r1 = base
    r2 = base / s
    r3 = base * (6.0 * np.arctan(1.0 / s) / (np.pi * s) - 0.5)
    r4 = base * (15.0 * np.arctan(1.0 / (s * np.sqrt(4.0 - h))) / (np.pi * s) - 1.5 / s)
    return r1, r2, r3, r4


def l_moments(hl, hr) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(L1, L2, L-skewness, L-kurtosis)`` of the Tukey HH distribution with parameters ``hl``, ``hr``."""
    left, right = _half_moments(hl), _half_moments(hr)
    l1 = right[0] - left[0]
    l2 = right[1] + left[1]
    return l1, l2, (right[2] - left[2]) / l2, (right[3] + left[3]) / l2


def _bisect(too_low, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Elementwise bisection: the point where ``too_low(x)`` turns False, between ``low`` and ``high``."""
    for _ in range(_BISECTIONS):
        middle = 0.5 * (low + high)
        below = too_low(middle)
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
    return 0.5 * (low + high)


def _left_h(hr: np.ndarray, skewness: np.ndarray) -> np.ndarray:
    """The ``hl`` in ``[0, hr]`` giving ``skewness`` with ``hr``; 0 when even ``hl = 0`` gives less."""

    def too_skewed(hl):  # skewness falls as hl grows toward hr
        return l_moments(hl, hr)[2] > skewness

    reachable = l_moments(np.zeros_like(hr), hr)[2] > skewness
    return np.where(reachable, _bisect(too_skewed, np.zeros_like(hr), hr.copy()), 0.0)


def h_params(l_skewness, l_kurtosis) -> tuple[np.ndarray, np.ndarray]:
    """``(hl, hr)`` of the Tukey HH distribution with this L-skewness and L-kurtosis (arrays of any shape).

    Both are 0 where the L-kurtosis is below the normal's (no long tails to
    undo). A negative L-skewness swaps the parameters. Where no pair matches
    both moments (skewness too large for the kurtosis), ``hl = 0`` and ``hr``
    matches the kurtosis.
    """
    skewness = np.asarray(l_skewness, np.float64)
    kurtosis = np.minimum(np.asarray(l_kurtosis, np.float64), MAX_L_KURTOSIS)
    shape = np.broadcast(skewness, kurtosis).shape
    skewness, kurtosis = np.broadcast_to(skewness, shape).ravel(), np.broadcast_to(kurtosis, shape).ravel()
    target = np.abs(skewness)

    def too_light(hr):  # along hl(hr), the kurtosis grows with hr
        return l_moments(_left_h(hr, target), hr)[3] < kurtosis

    hr = _bisect(too_light, np.zeros_like(kurtosis), np.full_like(kurtosis, MAX_H))
    hl = _left_h(hr, target)
    heavy = kurtosis >= GAUSSIAN_L_KURTOSIS
    hl, hr = np.where(heavy, hl, 0.0), np.where(heavy, hr, 0.0)
    negative = skewness < 0
    hl, hr = np.where(negative, hr, hl), np.where(negative, hl, hr)
    return hl.reshape(shape), hr.reshape(shape)
