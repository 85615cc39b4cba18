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
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from ._numeric import dot
from ._optim import minimize_log_params, pilot_step
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
    "simulate_bgnbd",
]


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

    @classmethod
    def from_params(cls, r: float, alpha: float, a: float, b: float) -> "BgNbdFit":
        """A parameter set that was not fitted (for simulations and what-if predictions)."""
        return cls(r, alpha, a, b, float("nan"), 0, False, 0, "parameters given, not fitted")

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- likelihood


def bgnbd_log_likelihood(r: float, alpha: float, a: float, b: float, x, t_x, T) -> np.ndarray:
    """log L per customer (plain vectorised form; the fit uses an equivalent faster path)."""
    x, t_x, T = as_rfm(x, t_x, T)
    k = r + x
    common = gammaln(k) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
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
        ll = dot(Wx, gammaln(r + ux) + betaln(a, b + ux)) + W * (-gammaln(r) + r * ln_alpha - betaln(a, b))
        psi_abx = digamma(a + b + ux)
        g_r = dot(Wx, digamma(r + ux)) + W * (ln_alpha - digamma(r))
        g_alpha = W * r / alpha
        g_a = W * digamma(a + b) - dot(Wx, psi_abx)
        g_b = dot(Wx, digamma(b + ux) - psi_abx) - W * (digamma(b) - digamma(a + b))
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


def fit_bgnbd(x, t_x, T, weights=None, *, max_iter: int = 1000, compress_rows: bool = True, start=None) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit.

    ``weights`` counts customers per row (identical rows can be passed once, see
    rfm.compress); rows are also compressed internally unless ``compress_rows=False``.
    Customers with T = 0 are left out (metrics.md: the fit is on customers with T > 0).
    The result's ``converged`` is False (and a ConvergenceWarning is issued) unless the
    optimiser reached a finite, interior point with a vanishing gradient. With many rows the
    search starts from a fit on a systematic sample of them (``_optim.minimize_log_params``).
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
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=-res.value * data.total_weight,
        n_customers=int(round(data.total_weight)),
        converged=res.converged,
        iterations=res.iterations,
        message=res.message,
        n_rows=data.n_rows,
        gradient_norm=res.gradient_norm,
    )


# --------------------------------------------------------------------------- predictions


def p_alive(fit: BgNbdFit, x, t_x, T) -> np.ndarray:
    """P(still active at T | x, t_x, T). Equals 1 for x = 0: in the BG/NBD model a customer
    can only drop out right after a repeat purchase."""
    x, t_x, T = as_rfm(x, t_x, T)
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    pos = x > 0
    bx1 = np.where(pos, b + x - 1.0, 1.0)
    d = np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(pos, expit(-d), 1.0)


def _alive_expectation_raw(r, alpha, a, b, t, x, T) -> np.ndarray:
    """H(t; x, T): expected purchases in (T, T+t] of a customer active at T (broadcasting)."""
    s = t / (alpha + T)
    c = a + b + x - 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.exp((1.0 - a) * np.log1p(s)) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, s / (1.0 + s))
        return c / (a - 1.0) * (1.0 - f)


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
    H = _alive_expectation(fit.r, fit.alpha, fit.a, fit.b, times[None, :], ux[:, None], uT[:, None])
    return H, inverse


def expected_purchases(fit: BgNbdFit, t, x, t_x, T) -> np.ndarray:
    """Conditional expected number of purchases in (T, T+t] (FHL 2005, eq. 10).

    ``t`` is a scalar horizon (or an array broadcastable against the customers)."""
    t = _check_times(t)
    if t.ndim == 0:
        return expected_purchases_curve(fit, t, x, t_x, T)[:, 0]
    x, t_x, T = as_rfm(x, t_x, T)
    return p_alive(fit, x, t_x, T) * _alive_expectation(fit.r, fit.alpha, fit.a, fit.b, t, x, T)


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
    out = _alive_expectation(fit.r, fit.alpha, fit.a, fit.b, t, 0.0, 0.0)
    return float(out) if np.ndim(out) == 0 else out


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
