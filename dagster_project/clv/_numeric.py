"""Small numeric helpers shared by the models."""

from __future__ import annotations

import numpy as np

__all__ = ["dot"]


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of a * b over 1-d arrays, without BLAS.

    ``a @ b`` on 1-d float arrays calls OpenBLAS ``ddot``, which splits long vectors over
    OpenBLAS's thread pool. On a small machine the hand-offs (and the pool's threads spinning
    afterwards, competing with the numpy work that follows) cost far more than the arithmetic:
    a 20,000-customer BG/NBD fit took 20x longer with the default thread settings than with one
    BLAS thread. ``np.einsum`` without ``optimize`` uses numpy's own vectorised loop, which is
    as fast as single-threaded ``ddot`` and needs no thread settings.
    """
    return float(np.einsum("i,i->", a, b))


# Above this argument, log-gamma and digamma *differences* are taken from the asymptotic
# (Stirling) series of the difference itself: gammaln(y + x) - gammaln(y) computed as two
# values of size y log y loses |y log y| * 1e-16 absolutely (1e-3 at y = 1e12), while the
# series of the difference keeps full relative precision. At y = 1e4 the neglected terms are
# below 1e-20.
_STIRLING_FROM = 1e4


def lpoch(y, x):
    """log Gamma(y + x) - log Gamma(y) (log of the rising factorial (y)_x), y > 0, x >= 0,
    accurate for every y up to the float range (see _STIRLING_FROM)."""
    from scipy.special import gammaln

    y, x = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(x, dtype=float))
    out = np.empty(y.shape)
    big = y >= _STIRLING_FROM
    if np.any(~big):
        out[~big] = gammaln(y[~big] + x[~big]) - gammaln(y[~big])
    if np.any(big):
        yb, xb = y[big], x[big]
        z = yb + xb
        out[big] = (
            (yb - 0.5) * np.log1p(xb / yb)
            + xb * np.log(z)
            - xb
            - xb / (12.0 * yb * z)
            + (1.0 / z**3 - 1.0 / yb**3) / -360.0
        )
    return out if out.ndim else float(out)


def dpsi(y, x):
    """digamma(y + x) - digamma(y), y > 0, x >= 0, accurate for large y (see lpoch)."""
    from scipy.special import digamma

    y, x = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(x, dtype=float))
    out = np.empty(y.shape)
    big = y >= _STIRLING_FROM
    if np.any(~big):
        out[~big] = digamma(y[~big] + x[~big]) - digamma(y[~big])
    if np.any(big):
        yb, xb = y[big], x[big]
        z = yb + xb
        out[big] = np.log1p(xb / yb) + xb / (2.0 * yb * z) + xb * (2.0 * yb + xb) / (12.0 * yb**2 * z**2)
    return out if out.ndim else float(out)


def observed_information_se(fun_grad, theta: np.ndarray, total_weight: float, *, step: float = 1e-4, central: bool = True):
    """Standard errors of theta from the observed information matrix.

    ``fun_grad(theta)`` returns the *mean* negative log-likelihood and its gradient in theta.
    The Hessian is taken in phi = log(theta) by central differences of the analytic gradient
    (2 x len(theta) evaluations; the gradient is accurate, so the differences are too, unlike
    second differences of the value; ``central=False``: forward differences, len(theta) + 1
    evaluations, error O(step) - for expensive likelihoods), symmetrised, scaled by the number of customers and
    inverted; the delta method turns Var(log theta_i) into SE(theta_i) = theta_i sd(log theta_i).
    Returns ``(se, cov_phi)``: se[i] is +inf where the information matrix is not positive
    definite in that direction (a flat likelihood: the parameter is not identified there).
    """
    theta = np.asarray(theta, dtype=float)
    phi = np.log(theta)
    n = len(theta)
    H = np.empty((n, n))
    if not central:
        with np.errstate(all="ignore"):
            g0 = fun_grad(theta)[1] * theta
    for i in range(n):
        up, down = phi.copy(), phi.copy()
        up[i] += step
        down[i] -= step
        with np.errstate(all="ignore"):
            g_up = fun_grad(np.exp(up))[1] * np.exp(up)
            if central:
                H[i] = (g_up - fun_grad(np.exp(down))[1] * np.exp(down)) / (2.0 * step)
            else:
                H[i] = (g_up - g0) / step
    H = 0.5 * (H + H.T) * total_weight
    se = np.full(n, np.inf)
    cov = np.full((n, n), np.nan)
    if np.all(np.isfinite(H)):
        eig = np.linalg.eigvalsh(H)
        if eig.min() > 1e-12 * max(eig.max(), 1e-300):
            cov = np.linalg.inv(H)
            var = np.diag(cov)
            ok = var > 0
            se[ok] = theta[ok] * np.sqrt(var[ok])
    return se, cov
