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
