"""Maximum-likelihood driver shared by the models: L-BFGS-B over log-parameters."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import minimize

__all__ = ["ConvergenceWarning", "OptimResult", "minimize_log_params"]

# first-order optimality required to call a fit converged: the largest gradient component of
# the *mean* per-customer negative log-likelihood with respect to the log-parameters
GRADIENT_TOLERANCE = 1e-5


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
) -> OptimResult:
    """Minimise ``fun_grad(theta)`` (value and gradient in theta) over phi = log(theta).

    The fit counts as converged only when the value and parameters are finite, no parameter
    sits at its bound, and the largest gradient component (in log-parameters) is below
    ``gradient_tolerance``. Otherwise a ConvergenceWarning is issued.
    """
    lo, hi = np.log(lower), np.log(upper)

    def f(phi: np.ndarray):
        theta = np.exp(phi)
        val, grad = fun_grad(theta)
        if not np.isfinite(val):
            return np.inf, np.zeros_like(phi)
        return val, grad * theta

    phi0 = np.clip(np.log(theta0), lo, hi)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        res = minimize(
            f,
            phi0,
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(lo, hi)),
            options={"maxiter": max_iter, "ftol": 1e-15, "gtol": gradient_tolerance * 1e-3, "maxcor": 20},
        )
        phi = res.x
        value, grad = f(phi)
    theta = np.exp(phi)
    gnorm = float(np.max(np.abs(grad))) if np.all(np.isfinite(grad)) else float("inf")
    message = str(res.message)
    problems = []
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
        iterations=int(res.nit),
        message=message,
        gradient_norm=gnorm,
    )
