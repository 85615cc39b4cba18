"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves";
Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value").

A customer's order values are Gamma(p, nu) with nu ~ Gamma(q, v) across customers (v the
"gamma" scale of the paper). For x orders with mean value m the density of m is

    f(m | x) = Gamma(px+q) / (Gamma(px) Gamma(q)) * v^q m^(px-1) x^(px) / (v + m x)^(px+q)

E[order value] in the population = p v / (q - 1) (q > 1); for a customer,
E[Z | x, m] = p (v + x m) / (p x + q - 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import digamma, gammaln

from ._numeric import dot
from ._optim import minimize_log_params, pilot_step
from .rfm import _as_1d_float, as_weights, factorize, group_index

__all__ = [
    "GammaGammaFit",
    "conditional_expected_order_value",
    "expected_order_value",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "population_mean_order_value",
]


@dataclass(frozen=True)
class GammaGammaFit:
    p: float
    q: float
    v: float
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int = 0
    message: str = ""
    gradient_norm: float = float("nan")

    @classmethod
    def from_params(cls, p: float, q: float, v: float) -> "GammaGammaFit":
        """A parameter set that was not fitted."""
        return cls(p, q, v, float("nan"), 0, False, 0, "parameters given, not fitted")

    @property
    def mean_order_value(self) -> float:
        return population_mean_order_value(self)

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "v": self.v}

    def as_dict(self) -> dict:
        return asdict(self)


def _as_spend(frequency, monetary_value, *, strict: bool) -> tuple[np.ndarray, np.ndarray]:
    x = _as_1d_float("frequency", frequency)
    m = _as_1d_float("monetary_value", monetary_value)
    if x.shape != m.shape:
        raise ValueError(f"frequency and monetary_value must have the same length, got {x.shape}, {m.shape}")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must be non-negative integers")
    if strict and (np.any(x <= 0) or np.any(m <= 0)):
        raise ValueError(
            "the Gamma-Gamma model is fitted on customers with frequency > 0 and monetary_value > 0 only; "
            f"got {int(np.sum((x <= 0) | (m <= 0)))} other rows"
        )
    return x, m


def gamma_gamma_log_likelihood(p: float, q: float, v: float, frequency, monetary_value) -> np.ndarray:
    """log f(m | x) per customer (frequency > 0, monetary_value > 0)."""
    x, m = _as_spend(frequency, monetary_value, strict=True)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + m * x)
    )


class _GammaGammaData:
    """Sums over the rows that do not depend on the parameters are computed once; per
    evaluation the rows contribute log(v + x m) and 1 / (v + x m), in blocks that fit in the
    CPU cache, into preallocated buffers."""

    BLOCK = 16_384  # rows per block of the per-row pass

    def __init__(self, x: np.ndarray, m: np.ndarray, w: np.ndarray):
        self.x, self.m = x, m
        self.W = float(w.sum())
        self.ux, xi = factorize(x)
        self.Wx = np.bincount(xi, weights=w, minlength=len(self.ux))
        self.xm = x * m
        lxm = np.log(self.xm)
        self.w = w
        self.wx = w * x
        self.S_wx_lxm = dot(self.wx, lxm)
        self.S_w_lxm = dot(w, lxm)
        self.S_w_lx = dot(w, np.log(x))
        self._buffers = np.empty((2, min(self.BLOCK, len(x))))

    def thinned(self, step: int) -> "_GammaGammaData":
        """The likelihood of every step-th row, for the pilot fit."""
        rows = slice(step // 2, None, step)
        return _GammaGammaData(self.x[rows], self.m[rows], self.w[rows])

    def neg_mean_ll_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, v = theta
        ux, Wx, W = self.ux, self.Wx, self.W
        pux = p * ux
        # sums over rows of w log(v + x m), w x log(v + x m), w / (v + x m), w x / (v + x m)
        s_wL = s_wxL = s_w_inv = s_wx_inv = 0.0
        for lo in range(0, len(self.w), self.BLOCK):
            hi = lo + self.BLOCK
            w, wx = self.w[lo:hi], self.wx[lo:hi]
            L, inv = (buf[: len(w)] for buf in self._buffers)
            np.add(self.xm[lo:hi], v, out=L)
            np.reciprocal(L, out=inv)
            np.log(L, out=L)
            s_wL += dot(w, L)
            s_wxL += dot(wx, L)
            s_w_inv += dot(w, inv)
            s_wx_inv += dot(wx, inv)
        ll = (
            dot(Wx, gammaln(pux + q) - gammaln(pux))
            + W * (q * np.log(v) - gammaln(q))
            + p * self.S_wx_lxm
            - self.S_w_lxm
            + self.S_w_lx
            - p * s_wxL
            - q * s_wL
        )
        psi = digamma(pux + q)
        g_p = dot(Wx, ux * (psi - digamma(pux))) + self.S_wx_lxm - s_wxL
        g_q = dot(Wx, psi) - W * digamma(q) + W * np.log(v) - s_wL
        g_v = W * q / v - p * s_wx_inv - q * s_w_inv
        return -ll / W, -np.array([g_p, g_q, g_v]) / W


def fit_gamma_gamma(frequency, monetary_value, weights=None, *, max_iter: int = 1000, start=None) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on customers with frequency x > 0 and mean repeat
    order value > 0 (other rows are rejected with ValueError; filter them first)."""
    x, m = _as_spend(frequency, monetary_value, strict=True)
    w = as_weights(weights, len(x))
    keep = w > 0
    if not keep.all():
        x, m, w = x[keep], m[keep], w[keep]
    if len(x) == 0:
        raise ValueError("no customers to fit")
    if _grouping_pays(m):
        first, inverse = group_index(x, m)
        x, m = x[first], m[first]
        w = np.bincount(inverse, weights=w, minlength=len(first))
    data = _GammaGammaData(x, m, w)
    scale = dot(w, m) / data.W  # mean order value: p v / (q - 1) = scale at the start
    theta0 = np.array([1.0, 2.0, scale]) if start is None else np.asarray(start, dtype=float)
    lower = np.array([1e-8, 1e-8, scale * 1e-10])
    upper = np.array([1e8, 1e8, scale * 1e10])
    step = pilot_step(len(data.w))
    res = minimize_log_params(
        data.neg_mean_ll_and_grad,
        theta0,
        lower,
        upper,
        ("p", "q", "v"),
        max_iter=max_iter,
        model="Gamma-Gamma",
        pilot=data.thinned(step).neg_mean_ll_and_grad if step else None,
    )
    p, q, v = (float(t) for t in res.theta)
    return GammaGammaFit(
        p=p,
        q=q,
        v=v,
        log_likelihood=-res.value * data.W,
        n_customers=int(round(data.W)),
        converged=res.converged,
        iterations=res.iterations,
        message=res.message,
        gradient_norm=res.gradient_norm,
    )


def _grouping_pays(m: np.ndarray) -> bool:
    """Whether merging identical (x, m) rows could at least halve them; below that, grouping
    costs more than it saves (continuous spend has no repeated values at all). There are at
    least as many distinct (x, m) rows as distinct m, which a sort counts cheaply."""
    if len(m) < 2:
        return False
    sorted_m = np.sort(m)
    return 2 * (1 + int(np.count_nonzero(sorted_m[1:] != sorted_m[:-1]))) <= len(m)


def population_mean_order_value(fit: GammaGammaFit) -> float:
    """p v / (q - 1); infinite when q <= 1 (the population mean does not exist)."""
    return fit.p * fit.v / (fit.q - 1.0) if fit.q > 1.0 else float("inf")


def conditional_expected_order_value(fit: GammaGammaFit, frequency, monetary_value) -> np.ndarray:
    """E[Z | x, m] = p (v + x m) / (p x + q - 1): a weighted mean of the population mean and
    the customer's observed mean. For x = 0 it is the population mean."""
    x, m = _as_spend(frequency, monetary_value, strict=False)
    p, q, v = fit.p, fit.q, fit.v
    return p * (v + x * m) / (p * x + q - 1.0)


def expected_order_value(fit: GammaGammaFit, frequency, monetary_value) -> np.ndarray:
    """The warehouse's `expected_order_value`: the conditional expectation for customers the
    model applies to (x > 0 and monetary_value > 0), the population mean for everyone else."""
    x, m = _as_spend(frequency, monetary_value, strict=False)
    inside = (x > 0) & (m > 0)
    out = np.full(len(x), population_mean_order_value(fit))
    out[inside] = conditional_expected_order_value(fit, x[inside], m[inside])
    return out
