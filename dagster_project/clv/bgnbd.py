"""BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way").

While active, a customer buys at Poisson rate lambda ~ Gamma(r, alpha) (shape, rate); after
every repeat purchase she drops out with probability p ~ Beta(a, b). For a customer with x
repeat purchases, the last at t_x, observed over (0, T]:

    L = B(a, b+x)/B(a, b) * Gamma(r+x) alpha^r / Gamma(r)
        * [ (alpha+T)^-(r+x) + [x > 0] a/(b+x-1) (alpha+t_x)^-(r+x) ]

The fit works on log L summed over customers (with integer weights for identical rows),
computed in log space with an analytic gradient, optimised over the log-parameters with BFGS
(see _optim; large fits first fit a sample of the rows to find a good start).

Predictions use P(alive) * H(t; x, T), where H is the expected number of purchases in
(T, T+t] of a customer alive at T:

    H = (a+b+x-1)/(a-1) * [1 - 2F1(r+x, a-1; a+b+x-1; -t/(alpha+T))]

(equal to FHL's eq. 10 after a Pfaff transformation), evaluated as
(1+s)^(1-a) 2F1(a+b-1-r, a-1; a+b+x-1; s/(1+s)), s = t/(alpha+T), so the hypergeometric
argument always lies in [0, 1) and its first parameter does not grow with x.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.special import expit, hyp2f1

from ._numeric import dot, dpsi, lpoch, observed_information_se
from ._optim import ConvergenceWarning, minimize_log_params, pilot_step
from .rfm import as_rfm, as_weights, factorize, group_index, sorted_rows

__all__ = [
    "BgNbdFit",
    "bgnbd_log_likelihood",
    "expected_purchases",
    "expected_purchases_curve",
    "expected_purchases_in_window",
    "expected_purchases_population",
    "fit_bgnbd",
    "p_alive",
    "pit_coverage",
    "purchases_percentiles",
    "purchases_pmf",
    "randomized_pit",
    "simulate_bgnbd",
]


# dropout / purchase-rate limits of the BG/NBD model (see the module docstring, "Edges")
HOMOGENEOUS_DROPOUT = "homogeneous_dropout"  # a, b -> inf, a/(a+b) = p fixed
NO_DROPOUT = "no_dropout"  # a/(a+b) -> 0: nobody ever drops out (the NBD model)
HOMOGENEOUS_PURCHASE_RATE = "homogeneous_purchase_rate"  # r, alpha -> inf, r/alpha = lambda fixed
# the diverging parameters of a limit are reported at this scale (a + b, or alpha), a point on
# the ridge whose likelihood equals the limit's to ~1e-12 relative
LIMIT_SCALE = 1e12
# a full fit whose a + b, b or r exceeds this is checked against the limiting models
RIDGE_CHECK = 1e3
# fewer repeat customers than this: the 4-parameter model is not identified; the fit is still
# made (predictions finite) but reported as not converged, with that reason
MIN_REPEAT_CUSTOMERS = 10


@dataclass(frozen=True)
class BgNbdFit:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float  # sum over customers of log L (weights count customers)
    n_customers: int  # customers (sum of weights) in the fit
    converged: bool
    iterations: int
    message: str
    n_rows: int = 0  # distinct (x, t_x, T) rows actually evaluated
    gradient_norm: float = float("nan")
    # None for an interior maximum; otherwise the limit of the parameter space the maximum lies
    # at, "+"-joined: "homogeneous_dropout", "no_dropout", "homogeneous_purchase_rate".
    # Predictions use that limit's closed forms; r, alpha, a, b are a point on its ridge.
    limit: str | None = None
    # standard error per parameter (observed information, delta method from log-parameters);
    # inf for parameters that diverge at the limit, plus the limit's identifiable combination
    # ("dropout_probability" = a/(a+b), "purchase_rate" = r/alpha) where it has one
    standard_errors: dict | None = None
    # (names, covariance of their logarithms): the inverse observed information in the fit's
    # own parameters (r, alpha, a, b inside; purchase_rate, dropout_odds at a limit), for the
    # delta method (diagnostics.prediction_sd)
    covariance: tuple | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_params(cls, r: float, alpha: float, a: float, b: float, *, limit: str | None = None) -> "BgNbdFit":
        """A parameter set that was not fitted (for simulations and what-if predictions).
        With ``limit``, predictions are those of that limit at p = a/(a+b), lambda = r/alpha."""
        _modes(limit)  # validates
        return cls(r, alpha, a, b, float("nan"), 0, False, 0, "parameters given, not fitted", limit=limit)

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    @property
    def dropout_probability(self) -> float:
        """Mean drop-out probability per repeat purchase, a/(a+b) (the limit's p)."""
        return self.a / (self.a + self.b)

    @property
    def purchase_rate(self) -> float:
        """Mean purchase rate while active, r/alpha (per time unit)."""
        return self.r / self.alpha

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "covariance"}


def _modes(limit: str | None) -> tuple[str, str]:
    """(purchase-rate mode, drop-out mode) of a limit: rate "gamma" | "fixed", drop-out
    "beta" | "fixed" | "none"."""
    parts = set() if not limit else set(limit.split("+"))
    unknown = parts - {HOMOGENEOUS_DROPOUT, NO_DROPOUT, HOMOGENEOUS_PURCHASE_RATE}
    if unknown or {HOMOGENEOUS_DROPOUT, NO_DROPOUT} <= parts:
        raise ValueError(f"unknown BG/NBD limit {limit!r}")
    rate = "fixed" if HOMOGENEOUS_PURCHASE_RATE in parts else "gamma"
    drop = "fixed" if HOMOGENEOUS_DROPOUT in parts else "none" if NO_DROPOUT in parts else "beta"
    return rate, drop


def _limit_name(rate: str, drop: str) -> str | None:
    parts = ([HOMOGENEOUS_PURCHASE_RATE] if rate == "fixed" else []) + (
        [HOMOGENEOUS_DROPOUT] if drop == "fixed" else [NO_DROPOUT] if drop == "none" else []
    )
    return "+".join(parts) or None



# --------------------------------------------------------------------------- likelihood


def bgnbd_log_likelihood(r: float, alpha: float, a: float, b: float, x, t_x, T) -> np.ndarray:
    """log L per customer (plain vectorised form; the fit uses an equivalent faster path)."""
    x, t_x, T = as_rfm(x, t_x, T)
    k = r + x
    common = lpoch(r, x) + r * np.log(alpha) + lpoch(b, x) - lpoch(a + b, x)
    term_T = -k * np.log(alpha + T)
    with np.errstate(divide="ignore"):
        term_tx = np.where(
            x > 0,
            np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) - k * np.log(alpha + t_x),
            -np.inf,
        )
    return common + np.logaddexp(term_T, term_tx)


class _BgNbdData:
    """Data arranged for fast likelihood evaluations.

    Terms that depend only on x (gamma/beta functions) are computed once per distinct x;
    logs of alpha+T and alpha+t_x once per distinct T and t_x; customers with x = 0 are
    aggregated per distinct T. Rows with x > 0 are sorted by (x, T, t_x) and identical ones
    merged, their weights summed (unless ``merge_rows=False``).

    For x > 0 the fit writes log L = common(x) - (r+x) log(alpha+t_x) + log(c + q) with
    c = a/(b+x-1) and q = ((alpha+t_x)/(alpha+T))^(r+x) in (0, 1]: both terms of the sum are
    positive, so the log needs no log-sum-exp guard, and -(r+x) log(alpha+t_x) sums per
    distinct t_x. Per row there remain one exp, one log and a division, done in blocks that
    fit in the CPU cache, into preallocated buffers.
    """

    BLOCK = 16_384  # rows per block of the per-row pass (4 buffers of 128 kB)

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray, *, merge_rows: bool = True):
        self.ux, x_code = factorize(x)
        self.uT, T_code = factorize(T)
        self.utx, t_code = factorize(t_x)
        (x_code, T_code, t_code), w = sorted_rows(
            (x_code, T_code, t_code), (len(self.ux), len(self.uT), len(self.utx)), w, merge=merge_rows
        )
        # rows are sorted by x: the x = 0 ones (if any) come first and aggregate per T
        n0 = int(np.searchsorted(x_code, 1)) if self.ux[0] == 0 else 0
        self.W0 = np.bincount(T_code[:n0], weights=w[:n0], minlength=len(self.uT))
        # x > 0 rows index the tables of the distinct positive x (self.ux without its 0)
        self.uxp = self.ux[self.ux > 0]
        self.x_idx = x_code[n0:] - (len(self.ux) - len(self.uxp))
        self.T_idx, self.t_idx, self.w = T_code[n0:], t_code[n0:], w[n0:]
        # rows evaluated: x = 0 ones count once per distinct T when merged
        self.n_rows = len(self.w) + int(np.count_nonzero(self.W0)) if merge_rows else len(x)
        self._aggregate()
        self._buffers = np.empty((4, min(self.BLOCK, len(self.w))))

    def _aggregate(self) -> None:
        """Weights per distinct x (all rows), per distinct positive x and per distinct t_x."""
        self.Wp = np.bincount(self.x_idx, weights=self.w, minlength=len(self.uxp))
        self.Wx = np.concatenate([[self.W0.sum()], self.Wp]) if len(self.ux) > len(self.uxp) else self.Wp
        self.total_weight = float(self.Wx.sum())
        self.Wt = np.bincount(self.t_idx, weights=self.w, minlength=len(self.utx))
        self.WXt = np.bincount(self.t_idx, weights=self.w * self.uxp[self.x_idx], minlength=len(self.utx))

    def thinned(self, step: int) -> "_BgNbdData":
        """The likelihood of a sample: every step-th x > 0 row (rows are sorted by x, T, t_x,
        so the sample is stratified) and the x = 0 customers with their weights scaled by the
        same sampling fraction. For the pilot fit; a self-contained weighted data set, so its
        value and gradient stay consistent and its maximum exists."""
        sub = copy.copy(self)
        rows = slice(step // 2, None, step)
        sub.x_idx, sub.T_idx, sub.t_idx, sub.w = self.x_idx[rows], self.T_idx[rows], self.t_idx[rows], self.w[rows]
        sub.W0 = self.W0 * (sub.w.sum() / self.w.sum())
        sub._aggregate()
        return sub

    def neg_mean_ll_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = theta
        W = self.total_weight
        ux, Wx = self.ux, self.Wx
        ln_alpha = np.log(alpha)
        # terms depending on x only
        # log Gamma(r+x)/Gamma(r) + log B(a, b+x)/B(a, b), and their derivatives, as
        # differences computed directly (lpoch, dpsi): stays accurate for a, b up to 1e12 and
        # beyond, where the maximum may lie on the a, b -> infinity ridge (module docstring)
        dpsi_ab = dpsi(a + b, ux)
        ll = dot(Wx, lpoch(r, ux) + lpoch(b, ux) - lpoch(a + b, ux)) + W * r * ln_alpha
        g_r = dot(Wx, dpsi(r, ux)) + W * ln_alpha
        g_alpha = W * r / alpha
        g_a = -dot(Wx, dpsi_ab)
        g_b = dot(Wx, dpsi(b, ux) - dpsi_ab)
        # -(r + x) log(alpha + T) for x = 0, -(r + x) log(alpha + t_x) for x > 0
        LT, inv_T = np.log(alpha + self.uT), 1.0 / (alpha + self.uT)
        Ltx, inv_tx = np.log(alpha + self.utx), 1.0 / (alpha + self.utx)
        s_L = dot(self.W0, LT) + dot(self.Wt, Ltx)
        ll -= r * s_L + dot(self.WXt, Ltx)
        g_r -= s_L
        g_alpha -= r * (dot(self.W0, inv_T) + dot(self.Wt, inv_tx)) + dot(self.WXt, inv_tx)
        # x > 0: + log(c + q) per row, c = a / (b + x - 1), q = exp((r + x) lr), where
        # lr = log((alpha + t_x) / (alpha + T)). With pi = q / (c + q) its derivatives are
        # d/dr = pi lr, d/dalpha = pi (r + x) dlr/dalpha, d/da = (1 - pi) / a and
        # d/db = -(1 - pi) / (b + x - 1). Summed over the rows block by block: w log(c + q),
        # w pi lr, w pi, w pi / (b + x - 1) and w pi (r + x) dlr/dalpha.
        k = r + self.uxp
        c = a / (b + self.uxp - 1.0)
        inv_b = 1.0 / (b + self.uxp - 1.0)
        s_log = s_png = s_p = s_pb = s_pkd = 0.0
        for lo in range(0, len(self.w), self.BLOCK):
            hi = lo + self.BLOCK
            xi, Ti, ti, w = self.x_idx[lo:hi], self.T_idx[lo:hi], self.t_idx[lo:hi], self.w[lo:hi]
            lr, kk, q, s = (buf[: len(w)] for buf in self._buffers)
            # mode="clip" only to skip the buffered bounds check of mode="raise": indices are valid
            np.take(Ltx, ti, out=lr, mode="clip")
            np.take(LT, Ti, out=s, mode="clip")
            lr -= s  # log((alpha + t_x) / (alpha + T)) <= 0
            np.take(k, xi, out=kk, mode="clip")
            np.multiply(kk, lr, out=q)
            np.exp(q, out=q)  # q = ((alpha + t_x) / (alpha + T))^(r + x)
            np.take(c, xi, out=s, mode="clip")
            s += q
            q /= s  # pi: the share of the (alpha + T) term in L
            s_log += dot(w, np.log(s, out=s))
            q *= w  # w pi from here on
            s_png += dot(q, lr)
            s_p += float(q.sum())
            np.take(inv_b, xi, out=s, mode="clip")
            s_pb += dot(q, s)
            np.take(inv_tx, ti, out=lr, mode="clip")
            np.take(inv_T, Ti, out=s, mode="clip")
            lr -= s  # dlr/dalpha = 1 / (alpha + t_x) - 1 / (alpha + T)
            q *= lr
            s_pkd += dot(q, kk)
        ll += s_log
        g_r += s_png
        g_alpha += s_pkd
        g_a += (float(self.Wp.sum()) - s_p) / a
        g_b -= dot(self.Wp, inv_b) - s_pb
        grad = np.array([g_r, g_alpha, g_a, g_b])
        return -ll / W, -grad / W


class _LimitModel:
    """The BG/NBD likelihood with either part replaced by its limit, over (compressed) rows.

    Purchase rate: "gamma" (r, alpha) or "fixed" (lambda: r, alpha -> inf, r/alpha = lambda,
    every customer buys at rate lambda). Drop-out: "beta" (a, b), "fixed" (the odds
    o = p/(1-p): a, b -> inf, a/(a+b) = p, every customer drops out with probability p after
    each repeat purchase - geometric drop-out) or "none" (p = 0: the NBD model). Per row,

        log L = R(x) + D(x) + log[ e^{l(T)} + [x > 0] c(x) e^{l(t_x)} ]

    with l(tau) = lpoch(r, x) - r log(1 + tau/alpha) - x log(alpha + tau) (gamma) or
    x log(lambda) - lambda tau (fixed); D(x) = log B(a, b+x)/B(a, b) (beta) or -x log(1+o)
    (fixed) or 0; c(x) = a/(b+x-1) (beta) or o (fixed) or 0. These are the limits of the
    BG/NBD terms, so a limit model's likelihood is the supremum of the full model's along
    the ridge. Plain vectorised numpy with an analytic gradient: only used when a full fit
    runs out to an edge, so speed matters less than for _BgNbdData.
    """

    def __init__(self, x, t_x, T, w, rate: str, drop: str):
        self.x, self.t, self.T, self.w = x, t_x, T, w
        self.W = float(w.sum())
        self.pos = x > 0
        self.rate, self.drop = rate, drop
        self.names = (("r", "alpha") if rate == "gamma" else ("purchase_rate",)) + (
            ("a", "b") if drop == "beta" else ("dropout_odds",) if drop == "fixed" else ()
        )

    def neg_mean_ll_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        x, t, T, w, pos = self.x, self.t, self.T, self.w, self.pos
        if self.rate == "gamma":
            r, alpha = theta[0], theta[1]
            i = 2
            lp, dp = lpoch(r, x), dpsi(r, x)
            l1T, l1t = np.log1p(T / alpha), np.log1p(t / alpha)
            lT = lp - r * l1T - x * np.log(alpha + T)
            lt = lp - r * l1t - x * np.log(alpha + t)
            dT = [dp - l1T, r * T / (alpha * (alpha + T)) - x / (alpha + T)]
            dt = [dp - l1t, r * t / (alpha * (alpha + t)) - x / (alpha + t)]
        else:
            lam = theta[0]
            i = 1
            lT = x * np.log(lam) - lam * T
            lt = x * np.log(lam) - lam * t
            dT, dt = [x / lam - T], [x / lam - t]
        if self.drop == "beta":
            a, b = theta[i], theta[i + 1]
            D = lpoch(b, x) - lpoch(a + b, x)
            bx1 = np.where(pos, b + x - 1.0, 1.0)
            logc = np.log(a) - np.log(bx1)
            dab = dpsi(a + b, x)
            dD, dc = [-dab, dpsi(b, x) - dab], [np.full(len(x), 1.0 / a), -1.0 / bx1]
        elif self.drop == "fixed":
            o = theta[i]
            D = -x * np.log1p(o)
            logc = np.full(len(x), np.log(o))
            dD, dc = [-x / (1.0 + o)], [np.full(len(x), 1.0 / o)]
        else:
            D, logc, dD, dc = 0.0, np.full(len(x), -np.inf), [], []
        second = np.where(pos, logc + lt, -np.inf)
        inner = np.logaddexp(lT, second)
        pi = np.exp(lT - inner)  # the share of the e^{l(T)} term
        q = np.where(pos, 1.0 - pi, 0.0)
        grad = [dot(w, pi * dTk + q * dtk) for dTk, dtk in zip(dT, dt)]
        grad += [dot(w, dDk + q * dck) for dDk, dck in zip(dD, dc)]
        ll = dot(w, D + inner)
        return -ll / self.W, -np.array(grad) / self.W


def _limit_fits(x, t_x, T, w, full, scale: float, max_iter: int):
    """Fit the limiting models (rate, drop) other than the full one, each from the full fit's
    implied values; returns [(rate, drop, model, OptimResult)]."""
    rows, weights = _compressed(x, t_x, T, w)
    r0, alpha0 = (min(full[0], 1e3), min(full[1], 1e3 * scale)) if np.all(np.isfinite(full)) else (1.0, scale)
    lam0 = full[0] / full[1] if np.all(np.isfinite(full)) and full[0] / full[1] > 0 else 1.0 / scale
    odds0 = float(np.clip(full[2] / full[3], 1e-6, 1e6)) if np.all(np.isfinite(full)) else 0.3
    out = []
    for rate, drop in (("gamma", "fixed"), ("gamma", "none"), ("fixed", "fixed"), ("fixed", "none")):
        model = _LimitModel(*rows, weights, rate, drop)
        theta0, lower, upper = [], [], []
        if rate == "gamma":
            theta0 += [r0, alpha0]
            lower += [1e-8, scale * 1e-10]
            upper += [1e8, scale * 1e10]
        else:
            theta0 += [lam0]
            lower += [1e-10 / scale]
            upper += [1e10 / scale]
        if drop == "fixed":
            theta0 += [odds0]
            lower += [1e-12]
            upper += [1e12]
        res = minimize_log_params(
            model.neg_mean_ll_and_grad,
            np.array(theta0),
            np.array(lower),
            np.array(upper),
            model.names,
            max_iter=max_iter,
            model=f"BG/NBD limit {_limit_name(rate, drop)}",
        )
        out.append((rate, drop, model, res))
    return out


def _compressed(x, t_x, T, w):
    first, inverse = group_index(x, t_x, T)
    weights = np.bincount(inverse, weights=w, minlength=len(first))
    return (x[first], t_x[first], T[first]), weights


def fit_bgnbd(
    x, t_x, T, weights=None, *, max_iter: int = 1000, compress_rows: bool = True, start=None,
    standard_errors: bool = True,
) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit.

    ``weights`` counts customers per row (identical rows can be passed once, see
    rfm.compress); rows are also compressed internally unless ``compress_rows=False``.
    Customers with T = 0 are left out (metrics.md: the fit is on customers with T > 0).
    With many rows the search starts from a fit on a systematic sample of them
    (``_optim.minimize_log_params``).

    Edges: the maximum may lie at the edge of the parameter space - a, b -> inf with a/(a+b)
    fixed (regular buyers who all drop out with the same probability), a/(a+b) -> 0 (nobody
    drops out), r, alpha -> inf (everyone buys at the same rate). The search then runs out
    along a ridge on which the likelihood keeps rising ever more slowly. When the full fit did
    not converge or ended with a + b, b or r above RIDGE_CHECK, the limiting models (_LimitModel)
    are fitted too; the model with the highest log-likelihood wins, and among models within a
    tolerance of it (1e-3 + 1e-9 |LL|: statistically indistinguishable) the one with the fewest
    parameters - a limit whose likelihood the full model only approaches is the maximum. The
    result's ``limit`` then names it, r, alpha, a, b are a point on its ridge (LIMIT_SCALE), its
    predictions are the limit's closed forms, and ``converged`` says whether the limit model's own
    fit converged. No customer with a repeat purchase: ValueError (nothing identifies the
    model; the caller publishes no prediction and says why). Fewer than MIN_REPEAT_CUSTOMERS
    repeat customers: fitted, predictions finite, but ``converged`` is False with that reason.

    ``standard_errors`` (default on) adds the observed-information standard errors (2 x 4
    extra gradient evaluations; see _numeric.observed_information_se).
    """
    x, t_x, T = as_rfm(x, t_x, T)
    w = as_weights(weights, len(x))
    keep = (w > 0) & (T > 0)  # T = 0 (first purchase at the cut-off) carries no information: L = 1
    if not keep.all():
        x, t_x, T, w = x[keep], t_x[keep], T[keep], w[keep]
    if len(x) == 0:
        raise ValueError("no customers to fit")
    if not np.any(x > 0):
        raise ValueError("no repeat purchases (all x = 0): the BG/NBD model is not identifiable")
    data = _BgNbdData(x, t_x, T, w, merge_rows=compress_rows)

    # starting values: r = 1 with mean purchase rate sum(x)/sum(T); a = 1, b = 3
    scale = dot(w, T) / dot(w, x)
    theta0 = np.array([1.0, scale, 1.0, 3.0]) if start is None else np.asarray(start, dtype=float)
    lower = np.array([1e-8, scale * 1e-10, 1e-8, 1e-8])
    upper = np.array([1e8, scale * 1e10, 1e8, 1e8])
    step = pilot_step(len(data.w))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        res = minimize_log_params(
            data.neg_mean_ll_and_grad,
            theta0,
            lower,
            upper,
            ("r", "alpha", "a", "b"),
            max_iter=max_iter,
            model="BG/NBD",
            pilot=data.thinned(step).neg_mean_ll_and_grad if step else None,
        )
        r, alpha, a, b = (float(v) for v in res.theta)
        ll_full = -res.value * data.total_weight
        chosen = (None, res, 4, ll_full, data.neg_mean_ll_and_grad, ("r", "alpha", "a", "b"))
        notes = ""
        if not res.converged or a + b > RIDGE_CHECK or b > RIDGE_CHECK or r > RIDGE_CHECK:
            candidates = [chosen]
            for rate, drop, model, lres in _limit_fits(x, t_x, T, w, res.theta, scale, max_iter):
                if np.isfinite(lres.value):
                    candidates.append(
                        ((rate, drop), lres, len(model.names), -lres.value * model.W, model.neg_mean_ll_and_grad, model.names)
                    )
            finite = [c for c in candidates if np.isfinite(c[3])]
            best = max(c[3] for c in finite)
            tol = 1e-3 + 1e-9 * abs(best)
            chosen = min((c for c in finite if c[3] >= best - tol), key=lambda c: (c[2], -c[3]))
            notes = "; log-likelihoods: " + ", ".join(
                f"{_limit_name(*c[0]) if c[0] else 'interior'} {c[3]:.6f}" for c in candidates
            )
    modes, cres, _, ll, fun_grad, names = chosen
    limit = _limit_name(*modes) if modes else None
    theta = cres.theta
    if limit:
        i = 0
        if modes[0] == "gamma":
            r, alpha = float(theta[0]), float(theta[1])
            i = 2
        else:
            lam = float(theta[0])
            r, alpha = lam * LIMIT_SCALE, LIMIT_SCALE
            i = 1
        if modes[1] == "fixed":
            p = float(theta[i] / (1.0 + theta[i]))
            a, b = p * LIMIT_SCALE, (1.0 - p) * LIMIT_SCALE
        else:  # no drop-out: a/(a+b) = 1/LIMIT_SCALE
            a, b = 1.0, LIMIT_SCALE
    converged, message = cres.converged, cres.message
    n_repeat = float(w[x > 0].sum())
    if limit:
        message = f"maximum at the limit {limit}: {message}{notes}"
    elif notes:
        message += notes
    if n_repeat < MIN_REPEAT_CUSTOMERS:
        converged = False
        message += (
            f"; NOT CONVERGED: only {n_repeat:g} customers with repeat purchases "
            f"(< {MIN_REPEAT_CUSTOMERS}): too few to identify the model"
        )
    if not converged:
        warnings.warn(f"BG/NBD fit did not converge: {message}", ConvergenceWarning, stacklevel=2)
    ses = covariance = None
    if standard_errors and np.all(np.isfinite(theta)):
        se, cov = observed_information_se(fun_grad, theta, data.total_weight)
        covariance = (tuple(names), cov)
        named = dict(zip(names, (float(v) for v in se)))
        ses = {k: named.get(k, math.inf) for k in ("r", "alpha", "a", "b")}
        if "purchase_rate" in named:
            ses["purchase_rate"] = named["purchase_rate"]
        if "dropout_odds" in named:  # p = o/(1+o): SE(p) = p (1-p) SE(log o) = SE(o) / (1+o)^2
            o = float(theta[names.index("dropout_odds")])
            ses["dropout_probability"] = named["dropout_odds"] / (1.0 + o) ** 2
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=float(ll),
        n_customers=int(round(data.total_weight)),
        converged=bool(converged),
        iterations=res.iterations + (cres.iterations if limit else 0),
        message=message,
        n_rows=data.n_rows,
        gradient_norm=cres.gradient_norm,
        limit=limit,
        standard_errors=ses,
        covariance=covariance,
    )



# --------------------------------------------------------------------------- predictions


def p_alive(fit: BgNbdFit, x, t_x, T) -> np.ndarray:
    """P(still active at T | x, t_x, T). Equals 1 for x = 0: in the BG/NBD model a customer
    can only drop out right after a repeat purchase. At a limit (fit.limit) the limit's form:
    c = p/(1-p) instead of a/(b+x-1), lambda (T - t_x) instead of (r+x) log((alpha+T)/(alpha+t_x)),
    and 1 for everyone without drop-out."""
    x, t_x, T = as_rfm(x, t_x, T)
    return _p_alive(fit, x, t_x, T)


def _p_alive(fit: BgNbdFit, x, t_x, T) -> np.ndarray:
    rate, drop = _modes(fit.limit)
    if drop == "none":
        return np.ones(np.broadcast(x, t_x, T).shape)
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    pos = x > 0
    if rate == "gamma":
        d_rate = (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    else:
        d_rate = fit.purchase_rate * (T - t_x)
    if drop == "beta":
        logc = np.log(a) - np.log(np.where(pos, b + x - 1.0, 1.0))
    else:
        logc = np.log(a) - np.log(b)  # p / (1 - p)
    return np.where(pos, expit(-(logc + d_rate)), 1.0)


def _alive_expectation_raw(r, alpha, a, b, t, x, T) -> np.ndarray:
    """H(t; x, T): expected purchases in (T, T+t] of a customer active at T (broadcasting).

    H = c/(a-1) (1 - f), c = a+b+x-1, f = (1+s)^(1-a) 2F1(a+b-1-r, a-1; c; s/(1+s)) with
    s = t/(alpha+T). For large a (or large s) (1+s)^(1-a) underflows while the 2F1 overflows
    (0 x inf = NaN: the bug of a fit at a = 1.05e6, b = 1.92e7). There f is taken from Euler's
    transformation instead, f = (1+s)^-(r+x) 2F1(r+x, b+x; c; s/(1+s)), in log space: a series
    of positive terms bounded by (1+s)^(r+x), so log f <= 0 never overflows, and
    1 - f = -expm1(log f) keeps its digits. Where scipy's hyp2f1 fails on it (it returns NaN
    for some large parameters), the series is summed directly (_log_hyp2f1_series).
    """
    t, x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, x, T)))
    s = t / (alpha + T)
    c = a + b + x - 1.0
    z = s / (1.0 + s)
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        lead = (1.0 - a) * np.log1p(s)
        f = np.exp(lead) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        out = c / (a - 1.0) * (1.0 - f)
    bad = ~np.isfinite(out) | (lead < -600.0) | (a > _EULER_FROM)
    bad &= c > 0
    if np.any(bad):
        k = (r + x)[bad]
        bx, cc, zz, ss = (b + x)[bad], c[bad], z[bad], s[bad]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            h = hyp2f1(k, bx, cc, zz)
            log_h = np.log(h)
        fail = ~(np.isfinite(log_h) & (h > 0))
        if np.any(fail):
            log_h[fail] = _log_hyp2f1_series(k[fail], bx[fail], cc[fail], zz[fail])
        log_f = -k * np.log1p(ss) + log_h
        out = np.array(out, dtype=float, copy=True)
        out[bad] = cc / (a - 1.0) * -np.expm1(np.minimum(log_f, 0.0))
    return out


# above this a, H uses Euler's form (see _alive_expectation_raw): the direct form's first
# hypergeometric parameter a+b-1-r grows with a and (1+s)^(1-a) heads for underflow
_EULER_FROM = 1e3


def _log_hyp2f1_series(A, B, C, z, max_terms: int = 10_000_000) -> np.ndarray:
    """log 2F1(A, B; C; z) for A, B, C > 0, 0 <= z < 1, summing the (positive) series in log
    space until the remaining tail, bounded by the geometric series of the larger of the
    current term ratio and its limit z, is below 1e-16 of the sum."""
    log_t = np.zeros(len(A))
    log_s = np.zeros(len(A))
    active = np.nonzero(z > 0)[0]
    n = 0
    while len(active) and n < max_terms:
        Aa, Ba, Ca, za = A[active], B[active], C[active], z[active]
        log_t[active] += np.log((Aa + n) * (Ba + n) / ((Ca + n) * (n + 1.0)) * za)
        log_s[active] = np.logaddexp(log_s[active], log_t[active])
        n += 1
        ratio = np.maximum((Aa + n) * (Ba + n) / ((Ca + n) * (n + 1.0)) * za, za)
        with np.errstate(divide="ignore"):
            tail = log_t[active] + np.log(ratio) - np.log1p(-ratio) - log_s[active]
        active = active[~((ratio < 1.0) & (tail < -37.0))]
    if len(active):
        raise FloatingPointError("hypergeometric series did not converge")
    return log_s


def _alive_expectation_fit(fit: BgNbdFit, t, x, T) -> np.ndarray:
    """H for a fit: the general model, or its limit's closed form (fit.limit). Conditional on
    being alive at T, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x), and an alive customer
    with rate lambda and drop-out p buys (1 - exp(-lambda p t))/p times in t; hence
    homogeneous drop-out: (1 - (1 + p s)^-(r+x))/p; no drop-out: (r+x) t/(alpha+T); with a
    homogeneous rate lambda: (1 - exp(-lambda p t))/p, resp. lambda t."""
    rate, drop = _modes(fit.limit)
    if (rate, drop) == ("gamma", "beta"):
        return _alive_expectation(fit.r, fit.alpha, fit.a, fit.b, t, x, T)
    t, x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, x, T)))
    p = fit.dropout_probability
    if rate == "gamma":
        s = t / (fit.alpha + T)
        if drop == "none":
            return (fit.r + x) * s
        return -np.expm1(-(fit.r + x) * np.log1p(p * s)) / p
    lam = fit.purchase_rate
    if drop == "none":
        return lam * t + 0.0 * x
    return -np.expm1(-lam * p * t) / p + 0.0 * x



_SINGULAR_STEP = 1e-4


def _alive_expectation(r, alpha, a, b, t, x, T) -> np.ndarray:
    """H with the removable singularities handled: a = 1 (0/0), and a+b+x-1 = 0 (only
    possible for x = 0), by linear interpolation between points 1e-4 away (error ~1e-8)."""
    h = _SINGULAR_STEP
    if abs(a - 1.0) < h:
        lo = _alive_expectation_c_guarded(r, alpha, 1.0 - h, b, t, x, T)
        hi = _alive_expectation_c_guarded(r, alpha, 1.0 + h, b, t, x, T)
        return lo + (a - (1.0 - h)) / (2 * h) * (hi - lo)
    return _alive_expectation_c_guarded(r, alpha, a, b, t, x, T)


def _alive_expectation_c_guarded(r, alpha, a, b, t, x, T) -> np.ndarray:
    h = _SINGULAR_STEP
    out = _alive_expectation_raw(r, alpha, a, b, t, x, T)
    if abs(a + b - 1.0) < h:  # c = a+b-1 near 0 for the x = 0 rows
        bad = np.broadcast_to(np.asarray(x) == 0, np.shape(out))
        if np.any(bad):
            b_lo, b_hi = 1.0 - h - a, 1.0 + h - a
            lo = _alive_expectation_raw(r, alpha, a, b_lo, t, x, T)
            hi = _alive_expectation_raw(r, alpha, a, b_hi, t, x, T)
            out = np.where(bad, lo + (b - b_lo) / (b_hi - b_lo) * (hi - lo), out)
    return out


def _check_times(t) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("prediction horizons must be finite and >= 0")
    return t


def expected_purchases_curve(fit: BgNbdFit, times, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T+t] | x, t_x, T] for every customer (rows) and every horizon t in
    ``times`` (columns). H is evaluated once per distinct (x, T)."""
    x, t_x, T = as_rfm(x, t_x, T)
    H, inverse = alive_expectation_by_group(fit, times, x, T)
    return p_alive(fit, x, t_x, T)[:, None] * H[inverse]


def alive_expectation_by_group(fit: BgNbdFit, times, x, T) -> tuple[np.ndarray, np.ndarray]:
    """H(t; x, T) for each distinct (x, T) pair (rows) and horizon (columns), and the
    index of each customer's pair: E[purchases in (T, T+t]] = p_alive * H[inverse]."""
    times = _check_times(times).reshape(-1)
    first, inverse = group_index(x, T)
    ux, uT = x[first], T[first]
    H = _alive_expectation_fit(fit, times[None, :], ux[:, None], uT[:, None])
    return H, inverse


def expected_purchases(fit: BgNbdFit, t, x, t_x, T) -> np.ndarray:
    """Conditional expected number of purchases in (T, T+t] (FHL 2005, eq. 10).

    ``t`` is a scalar horizon (or an array broadcastable against the customers)."""
    t = _check_times(t)
    if t.ndim == 0:
        return expected_purchases_curve(fit, t, x, t_x, T)[:, 0]
    x, t_x, T = as_rfm(x, t_x, T)
    return _p_alive(fit, x, t_x, T) * _alive_expectation_fit(fit, t, x, T)


def expected_purchases_in_window(fit: BgNbdFit, start, end, x, t_x, T) -> np.ndarray:
    """Conditional expected purchases in (T+start, T+end]: E[N(T+end) - N(T+start) | data]."""
    start, end = _check_times(start), _check_times(end)
    if np.any(end < start):
        raise ValueError("end must be >= start")
    if start.ndim == 0 and end.ndim == 0:
        curve = expected_purchases_curve(fit, [float(start), float(end)], x, t_x, T)
        return curve[:, 1] - curve[:, 0]
    return expected_purchases(fit, end, x, t_x, T) - expected_purchases(fit, start, x, t_x, T)


def expected_purchases_population(fit: BgNbdFit, t) -> np.ndarray | float:
    """Unconditional E[X(t)]: expected repeat purchases in (0, t] of a new customer (FHL eq. 9)."""
    t = _check_times(t)
    out = _alive_expectation_fit(fit, t, 0.0, 0.0)
    return float(out) if np.ndim(out) == 0 else out


# --------------------------------------------------------------------------- predictive distribution


class _FutureCounts:
    """P(N = k | x, t_x, T), N = purchases in (T, T+t], for k = 0, 1, 2, ... (one step at a time).

    Given alive at T (probability p_alive), lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x)
    independently. With M ~ Poisson(lambda t) the purchases the customer would make and G ~
    Geometric(p) on {1, 2, ...} the purchase after which she drops out, N = min(M, G):

        P(N = 0 | alive) = P(M = 0)
        P(N = k | alive) = P(M = k) E[(1-p)^(k-1)] + P(M > k) E[p (1-p)^(k-1)]      (k >= 1)

    where M is negative binomial, P(M = k) = Gamma(r+x+k)/(Gamma(r+x) k!) q0^(r+x) (1-q0)^k,
    q0 = (alpha+T)/(alpha+T+t), E[(1-p)^(k-1)] = B(a, b+x+k-1)/B(a, b+x) and
    E[p (1-p)^(k-1)] = that x a/(a+b+x+k-1); a dead customer makes none:
    P(N = k) = p_alive P(N = k | alive) + (1 - p_alive) [k = 0] (Fader, Hardie & Lee's conditional
    PMF of the BG/NBD, derived here from the model's construction). Limits: a Poisson M for a
    homogeneous rate, a fixed p, or no drop-out (N = M). The recurrences run in log space
    (no underflow of q0^(r+x) for heavy buyers).
    """

    def __init__(self, fit: BgNbdFit, x, t_x, T, t: float):
        self.rate, self.drop = _modes(fit.limit)
        self.pa = _p_alive(fit, x, t_x, T)
        if self.rate == "gamma":
            self.kr = fit.r + x
            self.log_q1 = np.log(t) - np.log(fit.alpha + T + t) + np.zeros_like(x)
            self.log_pm = -self.kr * np.log1p(t / (fit.alpha + T))
        else:
            m = fit.purchase_rate * t
            self.log_m = np.full(len(x), np.log(m))
            self.log_pm = np.full(len(x), -m)
        self.cdf_m = np.exp(self.log_pm)  # P(M <= k)
        if self.drop == "beta":
            self.a, self.bx = fit.a, fit.b + x
        self.p = fit.dropout_probability
        self.log_d1 = np.zeros(len(x))  # log E[(1-p)^(k-1)] at k = 1
        self.k = 0

    def pmf0(self) -> np.ndarray:
        return self.pa * np.exp(self.log_pm) + (1.0 - self.pa)

    def advance(self, idx: np.ndarray) -> np.ndarray:
        """Move rows ``idx`` (all at the current k) to k+1; returns P(N = k+1) for them. Rows not
        in ``idx`` must not be advanced again (they are finished)."""
        k = self.k
        if self.rate == "gamma":
            self.log_pm[idx] += np.log(self.kr[idx] + k) - np.log(k + 1.0) + self.log_q1[idx]
        else:
            self.log_pm[idx] += self.log_m[idx] - np.log(k + 1.0)
        pm = np.exp(self.log_pm[idx])
        self.cdf_m[idx] += pm
        sf = np.maximum(1.0 - self.cdf_m[idx], 0.0)  # P(M > k+1); rounding can take it below 0
        n = k + 1  # the count whose probability is returned
        if n > 1:  # E[(1-p)^(n-1)] from E[(1-p)^(n-2)]
            if self.drop == "beta":
                self.log_d1[idx] += np.log(self.bx[idx] + n - 2.0) - np.log(self.a + self.bx[idx] + n - 2.0)
            elif self.drop == "fixed":
                self.log_d1[idx] += np.log1p(-self.p)
        d1 = np.exp(self.log_d1[idx])
        if self.drop == "beta":
            d2 = d1 * self.a / (self.a + self.bx[idx] + n - 1.0)
        elif self.drop == "fixed":
            d2 = d1 * self.p
        else:
            d2 = 0.0
        self.k = n
        return self.pa[idx] * (pm * d1 + sf * d2)


def _future_counts(fit, t, x, t_x, T):
    t = float(_check_times(t))
    if not t > 0:
        raise ValueError("the horizon t must be > 0")
    return _FutureCounts(fit, x, t_x, T, t)


def purchases_pmf(fit: BgNbdFit, t: float, x, t_x, T, max_count: int) -> np.ndarray:
    """(n, max_count + 1) matrix: P(X(T, T+t] = k | x, t_x, T) for k = 0..max_count."""
    x, t_x, T = as_rfm(x, t_x, T)
    fc = _future_counts(fit, t, x, t_x, T)
    out = np.empty((len(x), max_count + 1))
    out[:, 0] = fc.pmf0()
    idx = np.arange(len(x))
    for k in range(1, max_count + 1):
        out[:, k] = fc.advance(idx)
    return out


def purchases_percentiles(fit, t: float, x, t_x, T, q=(0.1, 0.9), *, max_count: int = 10_000_000) -> np.ndarray:
    """(n, len(q)) integer matrix: for each customer and probability q_j the smallest count k
    with P(X(T, T+t] <= k | x, t_x, T) >= q_j - the q_j-quantile of the model's predictive
    distribution of her purchases in the next t (metrics.md: purchases_365d_low/high are
    q = 0.1, 0.9 with t = 365 days). Works for BG/NBD and Pareto/NBD fits.

    Identical (x, t_x, T) rows are evaluated once (rfm.group_index). The CDF is accumulated
    k = 0, 1, 2, ... and a row leaves the loop as soon as it reaches max(q) - no fixed cap on k,
    no tail beyond the largest quantile is ever evaluated; ``max_count`` only guards against a
    CDF that cannot reach max(q) (FloatingPointError).
    """
    x, t_x, T = as_rfm(x, t_x, T)
    q = np.atleast_1d(np.asarray(q, dtype=float))
    if np.any((q <= 0) | (q >= 1)):
        raise ValueError("probabilities must lie in (0, 1)")
    first, inverse = group_index(x, t_x, T)
    fc = _counts_for(fit, t, x[first], t_x[first], T[first])
    cdf = fc.pmf0()
    res = np.where(cdf[:, None] >= q[None, :], 0, -1)
    qmax = q.max()
    active = np.nonzero(cdf < qmax)[0]
    k = 0
    while len(active):
        k += 1
        if k > max_count:
            raise FloatingPointError("predictive CDF did not reach the requested quantile")
        cdf[active] += fc.advance(active)
        c = cdf[active]
        hit = (res[active] < 0) & (c[:, None] >= q[None, :])
        if np.any(hit):
            sub = res[active]
            sub[hit] = k
            res[active] = sub
        active = active[c < qmax]
    return res[inverse]


def purchases_variance(fit, t: float, x, t_x, T, *, tail: float = 1e-12, max_count: int = 10_000_000) -> np.ndarray:
    """Variance of each customer's purchases in (T, T+t] under the model's predictive
    distribution (BG/NBD or Pareto/NBD fits): E[N^2] - E[N]^2 from the PMF, accumulated until
    the probability left in a row's tail is below ``tail``. The holdout check sums it over the
    cohort: the spread of the cohort's count a correct model expects (larger than Poisson,
    since a customer's future is a mixture over her unknown rate and lifetime)."""
    x, t_x, T = as_rfm(x, t_x, T)
    first, inverse = group_index(x, t_x, T)
    fc = _counts_for(fit, t, x[first], t_x[first], T[first])
    cdf = fc.pmf0()
    m1 = np.zeros(len(first))
    m2 = np.zeros(len(first))
    active = np.nonzero(1.0 - cdf > tail)[0]
    k = 0
    while len(active):
        k += 1
        if k > max_count:
            raise FloatingPointError("predictive distribution did not converge")
        p = fc.advance(active)
        cdf[active] += p
        m1[active] += k * p
        m2[active] += k * k * p
        # rounding can stall the CDF just short of 1 - tail: once nearly all the mass is in,
        # a row whose terms no longer move E[N^2] is done as well
        c = cdf[active]
        negligible = (c > 1.0 - 1e-6) & (p * k * k <= 1e-15 * np.maximum(m2[active], 1.0))
        active = active[(1.0 - c > tail) & ~negligible]
    return np.maximum(m2 - m1**2, 0.0)[inverse]


def randomized_pit(fit, t: float, x, t_x, T, observed, *, seed: int = 0) -> np.ndarray:
    """Randomised probability integral transform of observed future counts: per customer
    U = F(X - 1) + V P(X), V ~ Uniform(0, 1) (seeded), F the predictive CDF of her purchases in
    (T, T+t] and X the count observed. If the model is right, U ~ Uniform(0, 1) exactly, also for
    discrete counts (the randomisation fills in the CDF's jumps)."""
    x, t_x, T = as_rfm(x, t_x, T)
    obs = np.asarray(observed)
    if obs.shape != x.shape or np.any(obs < 0) or np.any(obs != np.round(obs)):
        raise ValueError("observed must be non-negative integer counts, one per customer")
    obs = obs.astype(np.int64)
    first, inverse = group_index(x, t_x, T, obs.astype(float))
    ox = obs[first]
    fc = _counts_for(fit, t, x[first], t_x[first], T[first])
    pmf0 = fc.pmf0()
    at = np.where(ox == 0, pmf0, 0.0)  # P(X)
    below = np.where(ox > 0, pmf0, 0.0)  # F(X - 1), accumulated below
    active = np.nonzero(ox > 0)[0]
    k = 0
    while len(active):
        k += 1
        step = fc.advance(active)  # P(N = k)
        done = ox[active] == k
        at[active[done]] = step[done]
        below[active[~done]] += step[~done]
        active = active[~done]
    v = np.random.default_rng(seed).uniform(size=len(x))
    return below[inverse] + v * at[inverse]


def pit_coverage(fit, t: float, x, t_x, T, observed, *, lower: float = 0.1, upper: float = 0.9, seed: int = 0) -> float:
    """Share of customers whose randomised PIT (randomized_pit) lies in [lower, upper].

    How to read the 10th-90th percentile interval of purchases_365d_low/high: counts are
    discrete, so the closed interval [q10, q90] holds the actual count for at least 80 % of the
    customers when the model is right - usually many more (for a customer expected to buy
    nothing, q10 = q90 = 0 and the interval holds every zero). That share is therefore no test
    of calibration. The statement that holds exactly is about the randomised PIT: under the
    model, U = F(X-1) + V P(X) is uniform, so the share with lower <= U <= upper is
    upper - lower (80 % for 0.1..0.9) up to sampling noise (+-0.4 % at 100,000 customers). A
    share well below means the intervals are too narrow (over-confident model), above: too wide.
    """
    u = randomized_pit(fit, t, x, t_x, T, observed, seed=seed)
    return float(np.mean((u >= lower) & (u <= upper)))


def _counts_for(fit, t, x, t_x, T):
    if isinstance(fit, BgNbdFit):
        return _future_counts(fit, t, x, t_x, T)
    counts = getattr(fit, "_future_counts", None)
    if counts is None:
        raise TypeError(f"no predictive distribution for {type(fit).__name__}")
    return counts(t, x, t_x, T)



# --------------------------------------------------------------------------- simulation


def simulate_bgnbd(r: float, alpha: float, a: float, b: float, T, rng: np.random.Generator, horizon: float = 0.0):
    """Simulate BG/NBD customers observed for T (array, one entry per customer).

    Returns ``(x, t_x, future)``: repeat purchases in (0, T], time of the last one, and the
    number of purchases in (T, T + horizon].
    """
    T = np.asarray(T, dtype=float)
    n = len(T)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    lifetime_purchases = rng.geometric(p)  # drops out right after this purchase (>= 1)
    n_T = rng.poisson(lam * T)
    x = np.minimum(n_T, lifetime_purchases)
    # given n_T arrivals in (0, T], the x-th one is the x-th of n_T uniform order statistics
    pos = x > 0
    t_x = np.zeros(n)
    t_x[pos] = T[pos] * rng.beta(x[pos], n_T[pos] - x[pos] + 1)
    alive = n_T < lifetime_purchases
    future = np.zeros(n, dtype=np.int64)
    if horizon > 0:
        more = rng.poisson(lam * horizon)
        future = np.where(alive, np.minimum(more, lifetime_purchases - n_T), 0)
    return x.astype(float), t_x, future
