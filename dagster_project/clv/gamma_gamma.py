"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves";
Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value").

A customer's order values are Gamma(p, nu) with nu ~ Gamma(q, v) across customers (v the
"gamma" scale of the paper). For x orders with mean value m the density of m is

    f(m | x) = Gamma(px+q) / (Gamma(px) Gamma(q)) * v^q m^(px-1) x^(px) / (v + m x)^(px+q)

E[order value] in the population = p v / (q - 1) (q > 1); for a customer,
E[Z | x, m] = p (v + x m) / (p x + q - 1).

Edges. When customers differ too little in their mean order values, the maximum lies at
q, v -> inf with v/q = 1/nu fixed: every customer's orders are Gamma(p, nu) with the same nu
(limit "homogeneous_spend"); the likelihood keeps rising along that ridge, and a plain search
stops at its iteration limit. The fit then fits the limiting model (p, nu) as well and, when
the full model does not beat it, reports the limit: q, v are a point on the ridge
(q = LIMIT_SCALE, v = q/nu) and E[Z | x, m] is the limit's, the population mean p/nu for
everyone (the weight p x/(p x + q - 1) of the customer's own mean goes to 0). If every
customer has exactly the same mean order value m0, the likelihood is unbounded (p -> inf as
well: no variation at all); the fit reports the limit "constant_order_value" and predicts m0.

The other edge: when a customer's mean order value varies no more between few and many
orders than it does across customers, the maximum lies at p -> inf, v -> 0 with p v = s
fixed: each customer always spends the same amount 1/nu' = p/nu, and these amounts are
inverse-gamma across customers, m ~ InvGamma(q, s) whatever x (limit
"constant_customer_spend"; a shop whose customers each re-order the same basket). The full
likelihood rises towards that limit ever more slowly while its value loses its digits to
rounding (terms of size p log v), so a plain search stalls short of it. At this limit the
general formulas hold on the ridge point p = LIMIT_SCALE, v = s/p: the population mean is
s/(q - 1) and E[Z | x, m] -> m (the customer's own mean, weight p x/(p x + q - 1) -> 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import digamma, gammaln

import math
import warnings

from ._numeric import dot, dpsi, lpoch, observed_information_se
from ._optim import ConvergenceWarning, minimize_log_params, pilot_step
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
    # None (interior maximum), "homogeneous_spend" (q, v -> inf, v/q fixed),
    # "constant_customer_spend" (p -> inf, v -> 0, p v fixed) or "constant_order_value"
    # (every mean order value equal); see the module docstring
    limit: str | None = None
    # standard error per parameter (observed information); inf for the parameters that
    # diverge at a limit, plus the limit's identified combination ("nu" = q/v or "s" = p v)
    # and "mean_order_value" there
    standard_errors: dict | None = None

    @classmethod
    def from_params(cls, p: float, q: float, v: float, *, limit: str | None = None) -> "GammaGammaFit":
        """A parameter set that was not fitted (``limit``: predictions of that limit, nu = q/v)."""
        if limit not in (None, HOMOGENEOUS_SPEND, CONSTANT_CUSTOMER_SPEND, CONSTANT_ORDER_VALUE):
            raise ValueError(f"unknown Gamma-Gamma limit {limit!r}")
        return cls(p, q, v, float("nan"), 0, False, 0, "parameters given, not fitted", limit=limit)

    @property
    def mean_order_value(self) -> float:
        return population_mean_order_value(self)

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "v": self.v}

    def as_dict(self) -> dict:
        return asdict(self)


HOMOGENEOUS_SPEND = "homogeneous_spend"
CONSTANT_CUSTOMER_SPEND = "constant_customer_spend"
CONSTANT_ORDER_VALUE = "constant_order_value"
# limits whose predictions are the population mean for everyone (p/nu)
_POOLED_LIMITS = (HOMOGENEOUS_SPEND, CONSTANT_ORDER_VALUE)
LIMIT_SCALE = 1e12  # the diverging parameter at a limit (q, or p): a point on the ridge
RIDGE_CHECK = 1e3  # a full fit with q or p above this is checked against the limiting models


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
        self.S_wx = dot(w, x)
        self._buffers = np.empty((2, min(self.BLOCK, len(x))))

    def thinned(self, step: int) -> "_GammaGammaData":
        """The likelihood of every step-th row, for the pilot fit."""
        rows = slice(step // 2, None, step)
        return _GammaGammaData(self.x[rows], self.m[rows], self.w[rows])

    def neg_mean_ll_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, v = theta
        ux, Wx, W = self.ux, self.Wx, self.W
        pux = p * ux
        # q log v - (p x + q) log(v + x m) = -q log(1 + x m / v) - p x log(v + x m), and
        # log Gamma(px+q)/Gamma(q) as one difference (lpoch): no cancellation of terms of size
        # q log v when q, v run out along the q, v -> inf ridge (module docstring)
        # sums over rows of w log1p(x m / v), w x log1p(x m / v), w x m / (v + x m), w x / (v + x m)
        s_wL = s_wxL = s_w_xm_inv = s_wx_inv = 0.0
        for lo in range(0, len(self.w), self.BLOCK):
            hi = lo + self.BLOCK
            w, wx = self.w[lo:hi], self.wx[lo:hi]
            L, inv = (buf[: len(w)] for buf in self._buffers)
            xm = self.xm[lo:hi]
            np.add(xm, v, out=inv)
            np.reciprocal(inv, out=inv)
            np.multiply(xm, 1.0 / v, out=L)
            np.log1p(L, out=L)
            s_wL += dot(w, L)
            s_wxL += dot(wx, L)
            s_wx_inv += dot(wx, inv)
            inv *= xm
            s_w_xm_inv += dot(w, inv)
        ln_v = np.log(v)
        S_wx = self.S_wx
        ll = (
            dot(Wx, lpoch(q, pux) - gammaln(pux))
            + p * self.S_wx_lxm
            - self.S_w_lxm
            + self.S_w_lx
            - p * (S_wx * ln_v + s_wxL)
            - q * s_wL
        )
        g_p = dot(Wx, ux * (digamma(pux + q) - digamma(pux))) + self.S_wx_lxm - (S_wx * ln_v + s_wxL)
        g_q = dot(Wx, dpsi(q, pux)) - s_wL
        g_v = q / v * s_w_xm_inv - p * s_wx_inv
        return -ll / W, -np.array([g_p, g_q, g_v]) / W


class _HomogeneousSpend:
    """The limiting model q, v -> inf, q/v = nu: the mean m of x orders is Gamma(p x, nu x),
    log f = p x log(nu x) + (p x - 1) log m - nu x m - log Gamma(p x)."""

    names = ("p", "nu")

    def __init__(self, x, m, w):
        self.x, self.m, self.w = x, m, w
        self.W = float(w.sum())
        self.S_wx = dot(w, x)
        self.S_wxm = dot(w, x * m)
        self.const = dot(w * x, np.log(x * m))  # times p
        self.S_w_lm = dot(w, np.log(m))

    def neg_mean_ll_and_grad(self, theta):
        p, nu = theta
        px = p * self.x
        ll = p * (self.S_wx * np.log(nu) + self.const) - self.S_w_lm - nu * self.S_wxm - dot(self.w, gammaln(px))
        g_p = self.S_wx * np.log(nu) + self.const - dot(self.w * self.x, digamma(px))
        g_nu = p * self.S_wx / nu - self.S_wxm
        return -ll / self.W, -np.array([g_p, g_nu]) / self.W


class _ConstantCustomerSpend:
    """The limiting model p -> inf, v -> 0, p v = s: m ~ InvGamma(q, s) whatever x,
    log f = q log s - log Gamma(q) - (q + 1) log m - s / m."""

    names = ("q", "s")

    def __init__(self, m, w):
        self.w = w
        self.W = float(w.sum())
        self.S_w_lm = dot(w, np.log(m))
        self.S_w_inv_m = dot(w, 1.0 / m)

    def neg_mean_ll_and_grad(self, theta):
        q, s = theta
        W = self.W
        ll = W * (q * np.log(s) - gammaln(q)) - (q + 1.0) * self.S_w_lm - s * self.S_w_inv_m
        g_q = W * (np.log(s) - digamma(q)) - self.S_w_lm
        g_s = W * q / s - self.S_w_inv_m
        return -ll / W, -np.array([g_q, g_s]) / W


def _limit_fits(x, m, w, p: float, q: float, v: float, scale: float, max_iter: int):
    """Fit both limiting models from the full fit's implied values; returns
    [(limit, model, OptimResult)]."""
    out = []
    lim = _HomogeneousSpend(x, m, w)
    nu0 = q / v if np.isfinite(q / v) and q / v > 0 else 1.0 / scale
    p0 = p if np.isfinite(p) and 1e-6 < p < 1e6 else 1.0
    out.append((HOMOGENEOUS_SPEND, lim, minimize_log_params(
        lim.neg_mean_ll_and_grad, np.array([p0, nu0]), np.array([1e-8, 1e-10 / scale]),
        np.array([1e8, 1e10 / scale]), lim.names, max_iter=max_iter,
        model=f"Gamma-Gamma limit {HOMOGENEOUS_SPEND}",
    )))
    lim = _ConstantCustomerSpend(m, w)
    s0 = p * v if np.isfinite(p * v) and p * v > 0 else scale
    q0 = q if np.isfinite(q) and 1e-6 < q < 1e6 else 2.0
    out.append((CONSTANT_CUSTOMER_SPEND, lim, minimize_log_params(
        lim.neg_mean_ll_and_grad, np.array([q0, s0]), np.array([1e-8, scale * 1e-10]),
        np.array([1e8, scale * 1e10]), lim.names, max_iter=max_iter,
        model=f"Gamma-Gamma limit {CONSTANT_CUSTOMER_SPEND}",
    )))
    return out


def fit_gamma_gamma(
    frequency, monetary_value, weights=None, *, max_iter: int = 1000, start=None, standard_errors: bool = True
) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on customers with frequency x > 0 and mean repeat
    order value > 0 (other rows are rejected with ValueError; filter them first).

    Edges (module docstring): when the full search did not converge or ended with q or p
    above RIDGE_CHECK, the limiting models (p, nu) and (q, s) are fitted too; the better of
    them wins unless the full model's log-likelihood exceeds it by more than 1e-3 + 1e-9 |LL|
    (a limit the full model only approaches is the maximum). ``limit`` says which was reached; ``converged`` is the winning
    model's own convergence. All mean order values equal: limit "constant_order_value"
    (unbounded likelihood, log_likelihood = +inf, nothing to estimate). ``standard_errors``:
    observed-information SEs (_numeric.observed_information_se).
    """
    x, m = _as_spend(frequency, monetary_value, strict=True)
    w = as_weights(weights, len(x))
    keep = w > 0
    if not keep.all():
        x, m, w = x[keep], m[keep], w[keep]
    if len(x) == 0:
        raise ValueError("no customers to fit")
    if np.all(m == m[0]):
        m0 = float(m[0])
        return GammaGammaFit(
            p=LIMIT_SCALE, q=LIMIT_SCALE, v=LIMIT_SCALE * m0 / LIMIT_SCALE,
            log_likelihood=math.inf, n_customers=int(round(float(w.sum()))), converged=True,
            message=f"every mean order value is {m0:g}: no variation to model; limit {CONSTANT_ORDER_VALUE}, "
            f"every customer's expected order value is {m0:g}",
            limit=CONSTANT_ORDER_VALUE,
            standard_errors={"p": math.inf, "q": math.inf, "v": math.inf, "mean_order_value": 0.0},
        )
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
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", ConvergenceWarning)
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
        ll = -res.value * data.W
        chosen, limit, notes = (res, data.neg_mean_ll_and_grad, ("p", "q", "v")), None, ""
        if not res.converged or q > RIDGE_CHECK or p > RIDGE_CHECK:
            candidates = [(None, res, ll, data.neg_mean_ll_and_grad, ("p", "q", "v"))]
            for name, lim, lres in _limit_fits(x, m, w, p, q, v, scale, max_iter):
                candidates.append((name, lres, -lres.value * lim.W, lim.neg_mean_ll_and_grad, lim.names))
            notes = "; log-likelihoods: " + ", ".join(f"{c[0] or 'interior'} {c[2]:.6f}" for c in candidates)
            finite = [c for c in candidates if np.isfinite(c[2])]
            best = max(c[2] for c in finite)
            # a limit the full model only approaches is the maximum: the full model wins only
            # when it beats every limit by more than the tolerance
            tol = 1e-3 + 1e-9 * abs(best)
            limits = [c for c in finite if c[0] and c[2] >= best - tol]
            if limits:
                limit, cres, ll, fun, names = max(limits, key=lambda c: c[2])
                chosen = (cres, fun, names)
                if limit == HOMOGENEOUS_SPEND:
                    p, nu = (float(t) for t in cres.theta)
                    q, v = LIMIT_SCALE, LIMIT_SCALE / nu
                else:
                    q, s = (float(t) for t in cres.theta)
                    p, v = LIMIT_SCALE, s / LIMIT_SCALE
    cres, fun_grad, names = chosen
    message = (f"maximum at the limit {limit}: " if limit else "") + cres.message + notes
    if not cres.converged:
        warnings.warn(f"Gamma-Gamma fit did not converge: {message}", ConvergenceWarning, stacklevel=2)
    ses = None
    if standard_errors and np.all(np.isfinite(cres.theta)):
        se, cov = observed_information_se(fun_grad, cres.theta, data.W)
        if limit == HOMOGENEOUS_SPEND:
            ses = {"p": float(se[0]), "q": math.inf, "v": math.inf, "nu": float(se[1])}
            var = cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]  # Var(log p - log nu)
            ses["mean_order_value"] = float(p / nu * math.sqrt(var)) if var > 0 else math.inf
        elif limit == CONSTANT_CUSTOMER_SPEND:
            ses = {"p": math.inf, "q": float(se[0]), "v": math.inf, "s": float(se[1])}
            # log mean = log s - log(q - 1): gradient (-q/(q - 1), 1) in (log q, log s)
            g = np.array([-q / (q - 1.0), 1.0]) if q > 1.0 else None
            var = float(g @ cov @ g) if g is not None else math.nan
            ses["mean_order_value"] = float(s / (q - 1.0) * math.sqrt(var)) if var > 0 else math.inf
        else:
            ses = dict(zip(names, (float(t) for t in se)))
    return GammaGammaFit(
        p=p,
        q=q,
        v=v,
        log_likelihood=float(ll),
        n_customers=int(round(data.W)),
        converged=bool(cres.converged),
        iterations=res.iterations + (cres.iterations if limit else 0),
        message=message,
        gradient_norm=cres.gradient_norm,
        limit=limit,
        standard_errors=ses,
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
    """p v / (q - 1); infinite when q <= 1 (the population mean does not exist). At the limits
    homogeneous_spend and constant_order_value the limit's mean p/nu = p v/q."""
    if fit.limit in _POOLED_LIMITS:
        return fit.p * (fit.v / fit.q)
    return fit.p * fit.v / (fit.q - 1.0) if fit.q > 1.0 else float("inf")


def conditional_expected_order_value(fit: GammaGammaFit, frequency, monetary_value) -> np.ndarray:
    """E[Z | x, m] = p (v + x m) / (p x + q - 1): a weighted mean of the population mean and
    the customer's observed mean. For x = 0 it is the population mean; at the limits
    homogeneous_spend and constant_order_value the population mean for everyone."""
    x, m = _as_spend(frequency, monetary_value, strict=False)
    if fit.limit in _POOLED_LIMITS:  # the customer's own mean gets weight p x / (p x + q - 1) -> 0
        return np.full(len(x), population_mean_order_value(fit))
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
