"""Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

While active, a customer buys at Poisson rate lambda ~ Gamma(r, alpha); her lifetime is
exponential with rate mu ~ Gamma(s, beta) (shape, rate). For x repeat purchases, the last at
t_x, observed over (0, T]:

    L = Gamma(r+x) alpha^r beta^s / Gamma(r)
        * [ (alpha+T)^-(r+x) (beta+T)^-s + s * J ],
    J = integral_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau

(the first term: alive at T; the second: died at tau in (t_x, T]). The usual closed form of J
(Fader & Hardie, "A Note on Implementing the Pareto/NBD Model in MATLAB") is a *difference* of
two Gauss hypergeometric terms, with separate cases alpha >= beta and alpha < beta; it cancels
catastrophically when t_x is close to T or the arguments approach 1. Here J is computed as the
integral it is, by Gauss-Legendre quadrature after the substitution that integrates the
dominant power exactly:

    y = 1 - ((gamma+t_x)/(gamma+tau))^(kappa-1),  kappa = r+x+s+1,

with gamma = alpha when r+x >= s+1 (else beta). The remaining integrand
((gamma+tau)/(other+tau))^(smaller exponent) is smooth, bounded and monotone, so QUAD_NODES
nodes give ~1e-13 relative accuracy (tests compare against the hypergeometric form and
adaptive quadrature). Everything is positive, so log L is a log-sum-exp without cancellation,
and the gradient is the same quadrature applied to the derivatives of the log-integrand
(exact up to the quadrature error). All terms are written relative to alpha and beta
(log1p(tau/alpha), lpoch), so they stay accurate as r, alpha or s, beta run off to infinity.

Edges: s, beta -> inf with s/beta = mu fixed (every customer has the same drop-out rate) and
r, alpha -> inf with r/alpha = lambda fixed are the limits; the formulas above are continuous
there and evaluated stably, so a fit that runs out along such a ridge returns a point on it,
``limit`` says which, and ``converged`` accepts it when the gradient has vanished.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.special import exprel, roots_legendre

from ._numeric import dot, dpsi, lpoch, observed_information_se
from ._optim import ConvergenceWarning, minimize_log_params, pilot_step
from .rfm import as_rfm, as_weights, group_index

__all__ = [
    "ParetoNbdFit",
    "fit_pareto_nbd",
    "pareto_nbd_expected_purchases",
    "pareto_nbd_expected_purchases_population",
    "pareto_nbd_log_likelihood",
    "pareto_nbd_p_alive",
    "simulate_pareto_nbd",
]

QUAD_NODES = 20
_SPLIT = 30.0
_CUT = 80.0
_Y, _WY = (lambda n: ((roots_legendre(n)[0] + 1.0) / 2.0, roots_legendre(n)[1] / 2.0))(QUAD_NODES)
# a fit whose (s, beta) or (r, alpha) both exceed this is reported at that limit
RIDGE = 1e6
HOMOGENEOUS_DROPOUT = "homogeneous_dropout"  # s, beta -> inf, s/beta fixed
HOMOGENEOUS_PURCHASE_RATE = "homogeneous_purchase_rate"  # r, alpha -> inf, r/alpha fixed


@dataclass(frozen=True)
class ParetoNbdFit:
    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int
    message: str
    n_rows: int = 0
    gradient_norm: float = float("nan")
    limit: str | None = None  # None, or "+"-joined HOMOGENEOUS_DROPOUT / HOMOGENEOUS_PURCHASE_RATE
    standard_errors: dict | None = None
    # (names, covariance of log r, log alpha, log s, log beta): for the delta method
    covariance: tuple | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_params(cls, r: float, alpha: float, s: float, beta: float) -> "ParetoNbdFit":
        return cls(r, alpha, s, beta, float("nan"), 0, False, 0, "parameters given, not fitted")

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "s": self.s, "beta": self.beta}

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "covariance"}

    # the common interface of the purchase models (diagnostics, percentiles)
    def p_alive(self, x, t_x, T):
        return pareto_nbd_p_alive(self, x, t_x, T)

    def expected_purchases(self, t, x, t_x, T):
        return pareto_nbd_expected_purchases(self, t, x, t_x, T)

    def expected_purchases_curve(self, times, x, t_x, T):
        return pareto_nbd_expected_purchases_curve(self, times, x, t_x, T)

    def expected_purchases_population(self, t):
        return pareto_nbd_expected_purchases_population(self, t)

    def _future_counts(self, t, x, t_x, T):
        return _ParetoFutureCounts(self, float(t), x, t_x, T)


# --------------------------------------------------------------------------- likelihood


def _terms(r, alpha, s, beta, x, t_x, T, *, grad: bool):
    """Per row: log of the alive term, log of the s J term, and (with grad) their derivatives
    in (r, alpha, s, beta) as (4, n) arrays."""
    lp = lpoch(r, x)
    lT = lp - r * np.log1p(T / alpha) - x * np.log(alpha + T) - s * np.log1p(T / beta)
    k1, k2 = r + x, s + 1.0
    use_alpha = k1 >= k2
    gam = np.where(use_alpha, alpha, beta)
    kap1 = r + x + s  # kappa - 1 > 0
    # w = log((gam+tau)/(gam+t_x)) in [0, ell]; the integrand is
    # (gam+t_x)^-kap1 e^{-kap1 w} h(w) dw with h smooth and of variation scale >= ~1 in w.
    # Where kap1 ell <= SPLIT: Gauss-Legendre in w itself (e^{-kap1 w} is then a mild factor);
    # beyond, the dominant decay is integrated exactly, y = (1 - e^{-kap1 w})/(1 - e^{-kap1 ell}),
    # over the part w <= CUT/kap1 that holds all but e^{-CUT/2} of the integral (h grows at most
    # like e^{kap1 w/2} there).
    ell = np.log1p((T - t_x) / (gam + t_x))
    ke = kap1 * ell
    direct = ke <= _SPLIT
    # in the direct regime any offset is a valid change of variable; the smaller of alpha and
    # beta keeps the residual smooth in w (with the larger one, the factor (small+tau)^-k varies
    # on a scale of `small` in tau, a sliver of the w-range) - where its range stays moderate
    g_min = np.minimum(alpha, beta) + 0.0 * T
    ell_min = np.log1p((T - t_x) / (g_min + t_x))
    swap = direct & (kap1 * ell_min <= _SPLIT)
    gam = np.where(swap, g_min, gam)
    ell = np.where(swap, ell_min, ell)
    wend = np.where(direct, ell, np.minimum(ell, _CUT / kap1))
    c = np.where(direct, 0.0, kap1)
    cw = c * wend
    # map node y in [0, 1] to w: direct: w = wend y; else w = -log(1 - y (1 - e^{-c wend}))/c
    Ye = -np.expm1(-cw)
    with np.errstate(divide="ignore", invalid="ignore"):
        ww = np.where(
            direct[:, None],
            wend[:, None] * _Y[None, :],
            -np.log1p(-Ye[:, None] * _Y[None, :]) / np.where(direct, 1.0, c)[:, None],
        )
        # dw/dy: direct wend; else Ye/c e^{c w}. log of (integrand * dw/dy) relative to w = 0:
        log_jac = np.where(direct, np.log(wend), np.log(Ye) - np.log(np.where(direct, 1.0, c)))
    dtau = (gam + t_x)[:, None] * np.expm1(ww)
    tau = t_x[:, None] + dtau
    la = np.log1p(dtau / (alpha + t_x)[:, None])  # log((alpha+tau)/(alpha+t_x))
    lb = np.log1p(dtau / (beta + t_x)[:, None])
    # log of integrand x dtau/dw = (gam+tau), relative to tau = t_x, plus c w from dw/dy
    delta = -k1[:, None] * la - k2 * lb + ww + c[:, None] * ww
    dmax = delta.max(axis=1)
    e = np.exp(delta - dmax[:, None]) * _WY[None, :]
    esum = e.sum(axis=1)
    log_I = log_jac + dmax + np.log(esum)
    lJ = (
        np.log(s)
        + lp
        - r * np.log1p(t_x / alpha)
        - x * np.log(alpha + t_x)
        - s * np.log1p(t_x / beta)
        - np.log(beta + t_x)
        + np.log(gam + t_x)
        + log_I
    )
    if not grad:
        return lT, lJ, None, None
    om = e / esum[:, None]  # quadrature weights of E_J[.]
    dp = dpsi(r, x)
    gT = np.array(
        [
            dp - np.log1p(T / alpha),
            r * T / (alpha * (alpha + T)) - x / (alpha + T),
            -np.log1p(T / beta),
            s * T / (beta * (beta + T)),
        ]
    )
    E = lambda f: np.einsum("nj,nj->n", om, f)  # noqa: E731
    inv_a, inv_b = 1.0 / (alpha + tau), 1.0 / (beta + tau)
    gJ = np.array(
        [
            dp - np.log1p(t_x / alpha) - E(la),  # log1p(tau/alpha) = log1p(t_x/alpha) + la
            r / alpha - (r + x) * E(inv_a),  # r tau/(alpha(alpha+tau)) = r/alpha - r/(alpha+tau)
            1.0 / s - np.log1p(t_x / beta) - E(lb),
            s / beta - (s + 1.0) * E(inv_b),
        ]
    )
    return lT, lJ, gT, gJ


def pareto_nbd_log_likelihood(r: float, alpha: float, s: float, beta: float, x, t_x, T) -> np.ndarray:
    """log L per customer."""
    x, t_x, T = as_rfm(x, t_x, T)
    lT, lJ, _, _ = _terms(r, alpha, s, beta, x, t_x, T, grad=False)
    return np.logaddexp(lT, lJ)


class _ParetoData:
    BLOCK = 8192

    def __init__(self, x, t_x, T, w):
        self.x, self.t_x, self.T, self.w = x, t_x, T, w
        self.W = float(w.sum())

    def thinned(self, step: int) -> "_ParetoData":
        rows = slice(step // 2, None, step)
        return _ParetoData(self.x[rows], self.t_x[rows], self.T[rows], self.w[rows])

    def neg_mean_ll_and_grad(self, theta):
        r, alpha, s, beta = theta
        ll, g = 0.0, np.zeros(4)
        for lo in range(0, len(self.w), self.BLOCK):
            sl = slice(lo, lo + self.BLOCK)
            w = self.w[sl]
            lT, lJ, gT, gJ = _terms(r, alpha, s, beta, self.x[sl], self.t_x[sl], self.T[sl], grad=True)
            lL = np.logaddexp(lT, lJ)
            pi = np.exp(lT - lL)
            ll += dot(w, lL)
            g += np.einsum("kn,n->k", pi * gT + (1.0 - pi) * gJ, w)
        return -ll / self.W, -g / self.W


def fit_pareto_nbd(
    x, t_x, T, weights=None, *, max_iter: int = 1000, start=None, standard_errors: bool = True
) -> ParetoNbdFit:
    """Maximum-likelihood Pareto/NBD fit (weights count customers per row; rows are compressed
    internally; customers with T = 0 are left out; all x = 0: ValueError). Large fits start
    from a fit on a systematic sample of the rows (_optim). At a ridge (module docstring) the
    result is a point on it with ``limit`` set; ``converged`` then requires only a vanishing
    gradient (the search stops short of infinity by construction)."""
    x, t_x, T = as_rfm(x, t_x, T)
    w = as_weights(weights, len(x))
    keep = (w > 0) & (T > 0)
    if not keep.all():
        x, t_x, T, w = x[keep], t_x[keep], T[keep], w[keep]
    if len(x) == 0:
        raise ValueError("no customers to fit")
    if not np.any(x > 0):
        raise ValueError("no repeat purchases (all x = 0): the Pareto/NBD model is not identifiable")
    first, inverse = group_index(x, t_x, T)
    wc = np.bincount(inverse, weights=w, minlength=len(first))
    data = _ParetoData(x[first], t_x[first], T[first], wc)
    scale = dot(w, T) / dot(w, x)
    theta0 = np.array([1.0, scale, 1.0, scale]) if start is None else np.asarray(start, dtype=float)
    lower = np.array([1e-8, scale * 1e-10, 1e-8, scale * 1e-10])
    upper = np.array([1e14, scale * 1e14, 1e14, scale * 1e14])
    step = pilot_step(len(data.w))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", ConvergenceWarning)
        res = minimize_log_params(
            data.neg_mean_ll_and_grad,
            theta0,
            lower,
            upper,
            ("r", "alpha", "s", "beta"),
            max_iter=max_iter,
            model="Pareto/NBD",
            pilot=data.thinned(step).neg_mean_ll_and_grad if step else None,
        )
    r, alpha, s, beta = (float(v) for v in res.theta)
    parts = []
    if r > RIDGE and alpha > RIDGE * min(scale, 1.0):
        parts.append(HOMOGENEOUS_PURCHASE_RATE)
    if s > RIDGE and beta > RIDGE * min(scale, 1.0):
        parts.append(HOMOGENEOUS_DROPOUT)
    limit = "+".join(parts) or None
    converged, message = res.converged, res.message
    if limit and not converged and np.isfinite(res.value) and res.gradient_norm <= 1e-5:
        converged = True
        message = f"maximum at the limit {limit} (a point on the ridge; the gradient has vanished): {message}"
    elif limit:
        message = f"maximum at the limit {limit}: {message}"
    if not converged:
        warnings.warn(f"Pareto/NBD fit did not converge: {message}", ConvergenceWarning, stacklevel=2)
    ses = covariance = None
    if standard_errors and np.all(np.isfinite(res.theta)):
        se, cov = observed_information_se(data.neg_mean_ll_and_grad, res.theta, data.W, step=1e-5, central=False)
        covariance = (("r", "alpha", "s", "beta"), cov)
        ses = dict(zip(("r", "alpha", "s", "beta"), (float(v) for v in se)))
        for name, (i, j), value in (("purchase_rate", (0, 1), r / alpha), ("dropout_rate", (2, 3), s / beta)):
            var = cov[i, i] + cov[j, j] - 2 * cov[i, j] if np.all(np.isfinite(cov)) else -1.0
            ses[name] = float(value * math.sqrt(var)) if var > 0 else math.inf
        if limit:
            for part, names in ((HOMOGENEOUS_PURCHASE_RATE, ("r", "alpha")), (HOMOGENEOUS_DROPOUT, ("s", "beta"))):
                if part in limit:
                    ses.update({n: math.inf for n in names})
    return ParetoNbdFit(
        r=r,
        alpha=alpha,
        s=s,
        beta=beta,
        log_likelihood=-res.value * data.W,
        n_customers=int(round(data.W)),
        converged=bool(converged),
        iterations=res.iterations,
        message=message,
        n_rows=len(data.w),
        gradient_norm=res.gradient_norm,
        limit=limit,
        standard_errors=ses,
        covariance=covariance,
    )


# --------------------------------------------------------------------------- predictions


def pareto_nbd_p_alive(fit: ParetoNbdFit, x, t_x, T) -> np.ndarray:
    """P(alive at T | x, t_x, T) = alive term / L."""
    x, t_x, T = as_rfm(x, t_x, T)
    lT, lJ, _, _ = _terms(fit.r, fit.alpha, fit.s, fit.beta, x, t_x, T, grad=False)
    return np.exp(lT - np.logaddexp(lT, lJ))


def _alive_mean(fit: ParetoNbdFit, t, x, T):
    """E[purchases in (T, T+t] | alive at T] = (r+x)/(alpha+T) * E[(1 - e^{-mu t})/mu] with
    mu ~ Gamma(s, beta+T): (beta+T) log(1 + t/(beta+T)) exprel(-(s-1) log(1 + t/(beta+T)))
    (exprel: no 0/0 at s = 1, and the s, beta -> inf limit (1 - e^{-mu t})/mu comes out)."""
    bT = fit.beta + T
    L = np.log1p(t / bT)
    return (fit.r + x) / (fit.alpha + T) * bT * L * exprel(-(fit.s - 1.0) * L)


def pareto_nbd_expected_purchases(fit: ParetoNbdFit, t, x, t_x, T) -> np.ndarray:
    """Conditional expected purchases in (T, T+t]."""
    x, t_x, T = as_rfm(x, t_x, T)
    t = np.asarray(t, dtype=float)
    if np.any(t < 0) or not np.all(np.isfinite(t)):
        raise ValueError("prediction horizons must be finite and >= 0")
    return pareto_nbd_p_alive(fit, x, t_x, T) * _alive_mean(fit, t, x, T)


def pareto_nbd_expected_purchases_curve(fit: ParetoNbdFit, times, x, t_x, T) -> np.ndarray:
    """Conditional expected purchases for every customer (rows) and every horizon in ``times``
    (columns): P(alive), the costly part (the likelihood's terms), is evaluated once."""
    x, t_x, T = as_rfm(x, t_x, T)
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or np.any(times < 0) or not np.all(np.isfinite(times)):
        raise ValueError("prediction horizons must be a list of finite values >= 0")
    alive = pareto_nbd_p_alive(fit, x, t_x, T)
    return np.stack([alive * _alive_mean(fit, t, x, T) for t in times], axis=1)


def pareto_nbd_expected_purchases_population(fit: ParetoNbdFit, t):
    """Unconditional E[X(t)] of a new customer: r/alpha * beta log(1 + t/beta) exprel(...)."""
    t = np.asarray(t, dtype=float)
    out = _alive_mean(fit, t, 0.0, 0.0)
    return float(out) if np.ndim(out) == 0 else out


class _ParetoFutureCounts:
    """P(N = k | x, t_x, T) for N = purchases in (T, T+t] (interface of bgnbd._FutureCounts).

    Given alive at T: lambda ~ Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T) independently, and
    N ~ Poisson(lambda min(tau, t)) with the remaining lifetime tau ~ Exp(mu). Over lambda, a
    duration d gives a negative binomial NB_k(d); over mu, P(tau > t) = (b/(b+t))^s and tau has
    density s b^s/(b+u)^(s+1), b = beta+T. So

        P(N = k | alive) = (b/(b+t))^s NB_k(t) + integral_0^t s b^s/(b+u)^(s+1) NB_k(u) du,

    the integral by Gauss-Legendre in v = 1 - (b/(b+u))^s (which integrates the density
    exactly: the integrand becomes NB_k(u(v)), and summed over k the CDF is smooth in v).
    The NB recurrences in k run in log space per node.
    """

    NODES = 48

    def __init__(self, fit: ParetoNbdFit, t: float, x, t_x, T):
        if not t > 0:
            raise ValueError("the horizon t must be > 0")
        self.pa = pareto_nbd_p_alive(fit, x, t_x, T)
        b = fit.beta + T
        ls = -fit.s * np.log1p(t / b)
        V = -np.expm1(ls)  # P(tau < t)
        yv, wv = roots_legendre(self.NODES)
        yv, wv = (yv + 1.0) / 2.0, wv / 2.0
        v = V[:, None] * yv[None, :]
        u = b[:, None] * np.expm1(-np.log1p(-v) / fit.s)
        d = np.concatenate([u, np.full((len(x), 1), t)], axis=1)  # durations; the last: tau > t
        self.wts = np.concatenate([V[:, None] * wv[None, :], np.exp(ls)[:, None]], axis=1)
        self.kr = (fit.r + x)[:, None]
        aT = (fit.alpha + T)[:, None]
        self.log_q1 = np.log(d) - np.log(aT + d)
        self.log_nb = -self.kr * np.log1p(d / aT)
        self.k = 0

    def pmf0(self) -> np.ndarray:
        return self.pa * (self.wts * np.exp(self.log_nb)).sum(axis=1) + (1.0 - self.pa)

    def advance(self, idx):
        k = self.k
        self.log_nb[idx] += np.log(self.kr[idx] + k) - math.log(k + 1.0) + self.log_q1[idx]
        self.k = k + 1
        return self.pa[idx] * (self.wts[idx] * np.exp(self.log_nb[idx])).sum(axis=1)


# --------------------------------------------------------------------------- simulation


def simulate_pareto_nbd(r, alpha, s, beta, T, rng: np.random.Generator, horizon: float = 0.0):
    """Simulate Pareto/NBD customers observed for T; returns (x, t_x, future) as simulate_bgnbd."""
    T = np.asarray(T, dtype=float)
    n = len(T)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    tau = rng.exponential(1.0 / mu)
    active = np.minimum(tau, T)
    x = rng.poisson(lam * active)
    # given x arrivals of a Poisson process on (0, active], the last is active * Beta(x, 1)
    t_x = np.where(x > 0, active * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    future = np.zeros(n, dtype=np.int64)
    if horizon > 0:
        more = np.clip(np.minimum(tau, T + horizon) - T, 0.0, None)
        future = rng.poisson(lam * more)
    return x.astype(float), t_x, future
