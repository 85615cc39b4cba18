"""Maximum-likelihood driver shared by the models: BFGS over log-parameters, inside box bounds.

The models have 3-4 parameters, so a dense quasi-Newton (BFGS) iteration costs microseconds in
plain numpy; all the time is in the likelihood evaluations. scipy's L-BFGS-B is not used: its
subspace step solves small triangular systems with several right-hand sides (LAPACK dtrtrs,
OpenBLAS dtrsm), which OpenBLAS hands to its thread pool. With the default thread settings on a
2-vCPU machine, waking the pool took 5-10 ms per iteration, more than a likelihood evaluation
over a million customers, and the spinning threads slowed the evaluations as well. Nothing here
calls BLAS.

Large fits first fit a systematic sample of the rows (the "pilot"); its optimum and curvature
estimate start the full search, which then needs about 5 evaluations instead of about 20.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._numeric import dot

__all__ = ["ConvergenceWarning", "OptimResult", "minimize_log_params", "pilot_step"]

# first-order optimality required to call a fit converged: the largest gradient component of
# the *mean* per-customer negative log-likelihood with respect to the log-parameters
GRADIENT_TOLERANCE = 1e-5
# the search itself stops at a gradient 1000x smaller: BFGS converges superlinearly, so the
# last digits cost one or two iterations and leave the estimates accurate to ~1e-8 relative
SEARCH_TOLERANCE_FACTOR = 1e-3
# per-iteration step limit in log-parameters (a factor e^2): keeps early steps from jumping
# into overflow territory before the curvature is known
MAX_STEP = 2.0
ARMIJO = 1e-4  # sufficient decrease, as a fraction of the predicted one
# values of the mean log-likelihood closer than this (relative) are rounding noise: a mean
# over n customers carries an error of about sqrt(n) * 1e-16 relative
VALUE_NOISE = 1e-12

# large fits first fit a systematic sample of about PILOT_ROWS rows (see minimize_log_params),
# when the data have at least PILOT_MIN_ROWS rows: the sample's evaluations are then cheap
# next to the ~15 full-data evaluations they save
PILOT_ROWS = 20_000
PILOT_MIN_ROWS = 4 * PILOT_ROWS


def pilot_step(n_rows: int) -> int | None:
    """Take every step-th row for the pilot fit, or None: too few rows for a pilot to pay."""
    return n_rows // PILOT_ROWS if n_rows >= PILOT_MIN_ROWS else None


class ConvergenceWarning(UserWarning):
    """A maximum-likelihood fit did not converge; its `converged` flag is False."""


@dataclass(frozen=True)
class OptimResult:
    theta: np.ndarray
    value: float  # mean negative log-likelihood at theta
    converged: bool
    iterations: int
    message: str
    gradient_norm: float


def minimize_log_params(
    fun_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    names: tuple[str, ...],
    *,
    max_iter: int = 1000,
    gradient_tolerance: float = GRADIENT_TOLERANCE,
    model: str = "model",
    pilot: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
) -> OptimResult:
    """Minimise ``fun_grad(theta)`` (value and gradient in theta) over phi = log(theta).

    ``pilot`` is an optional cheap stand-in for ``fun_grad``: the same mean objective with its
    per-row part estimated from a sample of the rows. It is minimised first, and the search on
    ``fun_grad`` starts from its minimum *and* its curvature estimate (within sampling error of
    the full one), so it needs a handful of evaluations instead of ~20. The pilot only chooses
    the starting point: the result and its convergence are judged on ``fun_grad`` alone.

    The fit counts as converged only when the search ended by itself within ``max_iter``
    iterations, the value and parameters are finite, no parameter sits at its bound, and the
    largest gradient component (in log-parameters) is below ``gradient_tolerance``. Otherwise
    a ConvergenceWarning is issued.
    """
    lo, hi = np.log(lower), np.log(upper)
    gtol = gradient_tolerance * SEARCH_TOLERANCE_FACTOR
    phi0, H0, started = np.clip(np.log(theta0), lo, hi), None, ""
    if pilot is not None:
        phi_p, value_p, _, iterations_p, _, H_p = _bfgs_in_box(_in_log_params(pilot), phi0, lo, hi, max_iter, gtol)
        if np.isfinite(value_p):
            phi0, H0 = phi_p, H_p
            started = f"; started from a pilot fit on a sample of the rows ({iterations_p} iterations)"
    phi, value, grad, iterations, message, _ = _bfgs_in_box(
        _in_log_params(fun_grad), phi0, lo, hi, max_iter, gtol, H0
    )
    message += started
    theta = np.exp(phi)
    gnorm = float(np.max(np.abs(grad))) if np.isfinite(value) else float("inf")
    problems = []
    if iterations >= max_iter:
        # a maximum is found long before: the search was still gaining, e.g. on a likelihood
        # that keeps rising towards the edge of the parameter space, where the gradient fades
        problems.append(f"no maximum within {max_iter} iterations")
    if not (np.isfinite(value) and np.all(np.isfinite(theta))):
        problems.append("non-finite log-likelihood or parameters")
    at_bound = [n for n, p, a, b in zip(names, phi, lo, hi) if p <= a + 1e-6 or p >= b - 1e-6]
    if at_bound:
        problems.append(f"parameter(s) at the search bound: {', '.join(at_bound)}")
    if not gnorm <= gradient_tolerance:
        problems.append(f"gradient not small (max |d mean LL / d log param| = {gnorm:.3g} > {gradient_tolerance:g})")
    converged = not problems
    if converged:
        message = f"converged: max |gradient| {gnorm:.2g} (optimizer: {message})"
    else:
        message = f"{message}; NOT CONVERGED: " + "; ".join(problems)
        warnings.warn(f"{model} fit did not converge: {message}", ConvergenceWarning, stacklevel=3)
    return OptimResult(
        theta=theta,
        value=float(value),
        converged=converged,
        iterations=iterations,
        message=message,
        gradient_norm=gnorm,
    )


def _in_log_params(fun_grad):
    """fun_grad as a function of phi = log(theta), with the gradient in phi; +inf where the
    value or the gradient is not finite (the line search then backs off)."""

    def f(phi: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(phi)
        with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
            val, grad = fun_grad(theta)
        grad = grad * theta
        if not (np.isfinite(val) and np.all(np.isfinite(grad))):
            return np.inf, np.zeros_like(phi)
        return float(val), grad

    return f


def _bfgs_in_box(f, phi, lo, hi, max_iter: int, gtol: float, H: np.ndarray | None = None):
    """BFGS with a backtracking line search; parameters that reach a bound with the gradient
    pointing outwards are held there. ``H`` is a starting inverse Hessian (default: identity,
    rescaled after the first step). Returns ``(phi, value, grad, iterations, message, H)``; the
    caller judges convergence."""
    value, grad = f(phi)
    if not np.isfinite(value):
        return phi, value, grad, 0, "non-finite log-likelihood at the starting values", H
    n = len(phi)
    scaled = H is not None
    if H is None:  # first step: steepest descent, at most MAX_STEP long
        H = np.eye(n)
    for iteration in range(max_iter):
        held = ((phi <= lo) & (grad > 0)) | ((phi >= hi) & (grad < 0))
        g = np.where(held, 0.0, grad)
        if np.max(np.abs(g)) <= gtol:
            return phi, value, grad, iteration, "gradient below tolerance", H
        d = -_matvec(H, g)
        d[held] = 0.0
        slope = dot(d, g)
        if not slope < 0:  # the approximation lost its way: restart from steepest descent
            H, scaled = np.eye(n), False
            d, slope = -g, -dot(g, g)
        t = min(1.0, MAX_STEP / np.max(np.abs(d)))
        step = _line_search(f, phi, value, grad, d, slope, t, lo, hi)
        if step is None:
            return phi, value, grad, iteration, "no further decrease possible (rounding noise)", H
        new_phi, new_value, new_grad = step
        s, y = new_phi - phi, new_grad - grad
        sy = dot(s, y)
        if sy > 1e-12 * np.sqrt(dot(s, s) * dot(y, y)):  # curvature condition: keep H positive definite
            if not scaled:  # Shanno-Phua: first give H the scale of the observed curvature
                H, scaled = np.eye(n) * (sy / dot(y, y)), True
            Hy = _matvec(H, y)
            H = H - (np.outer(s, Hy) + np.outer(Hy, s)) / sy + (1.0 + dot(y, Hy) / sy) * np.outer(s, s) / sy
        phi, value, grad = new_phi, new_value, new_grad
    return phi, value, grad, max_iter, "maximum number of iterations reached", H


def _line_search(f, phi, value, grad, d, slope, t, lo, hi):
    """Backtrack from step ``t`` along ``d`` (projected onto the box) until the value decreases
    enough (Armijo) - or, at the rounding-noise floor of the value, until the directional
    derivative shrinks without the value rising beyond the noise: there the gradient is still
    informative while differences of values are not. ``None`` if no step qualifies."""
    noise = VALUE_NOISE * max(1.0, abs(value))
    for _ in range(40):
        new_phi = np.clip(phi + t * d, lo, hi)
        new_value, new_grad = f(new_phi)
        if new_value <= value + ARMIJO * t * slope:
            return new_phi, new_value, new_grad
        if new_value <= value + noise and abs(dot(d, new_grad)) < 0.9 * abs(slope):
            return new_phi, new_value, new_grad
        if not np.isfinite(new_value):
            t *= 0.1
        else:  # minimum of the quadratic through value, slope and new_value, kept in [0.1 t, 0.5 t]
            curvature = new_value - value - slope * t
            t = min(max(-slope * t * t / (2.0 * curvature), 0.1 * t), 0.5 * t)
        if t * np.max(np.abs(d)) < 1e-15:
            break
    return None


def _matvec(H: np.ndarray, v: np.ndarray) -> np.ndarray:
    # einsum rather than H @ v: no BLAS call (see the module docstring)
    return np.einsum("ij,j->i", H, v)
