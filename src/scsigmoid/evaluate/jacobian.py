"""Theory check of the paper's appendix A.1 on real attention scores: the softmax row Jacobian
diag(p) - p pᵀ (dense) against the sigmoid Jacobian diag(σ'(s)) (diagonal, entries <= 0.25) as the
score scale alpha grows."""

from __future__ import annotations

import numpy as np
import pandas as pd

SIGMOID_DERIVATIVE_BOUND = 0.25


def _softmax(s: np.ndarray) -> np.ndarray:
    z = s - s.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(s: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * s))


def softmax_jacobian(s: np.ndarray) -> np.ndarray:
    """d softmax(s) / d s for one score row: diag(p) - p pᵀ."""
    p = _softmax(np.asarray(s, dtype=np.float64))
    return np.diag(p) - np.outer(p, p)


def sigmoid_jacobian(s: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """d σ(s + b) / d s for one score row: diag(σ(s + b)(1 - σ(s + b)))."""
    q = _sigmoid(np.asarray(s, dtype=np.float64) + bias)
    return np.diag(q * (1.0 - q))


def softmax_jacobian_norms(S: np.ndarray) -> np.ndarray:
    """Spectral norm of diag(p) - p pᵀ for every row of S [rows, keys] (symmetric PSD: largest eigenvalue)."""
    P = _softmax(np.asarray(S, dtype=np.float64))
    J = np.einsum("rk,kl->rkl", P, np.eye(P.shape[1])) - np.einsum("rk,rl->rkl", P, P)
    return np.linalg.eigvalsh(J)[:, -1]


def sigmoid_jacobian_norms(S: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """Spectral norm of diag(σ'(s)) for every row: max_k σ'(s_k) (always <= 0.25)."""
    Q = _sigmoid(np.asarray(S, dtype=np.float64) + bias)
    return (Q * (1.0 - Q)).max(axis=1)


def softmax_offdiag_share(S: np.ndarray) -> np.ndarray:
    """Share of the squared Frobenius norm of diag(p) - ppᵀ that lies off the diagonal, per row
    (the sigmoid Jacobian's is exactly 0)."""
    P = _softmax(np.asarray(S, dtype=np.float64))
    sum2, sum4 = (P**2).sum(axis=1), (P**4).sum(axis=1)
    off = sum2**2 - sum4  # sum over k != l of p_k² p_l²
    diag = ((P - P**2) ** 2).sum(axis=1)
    return off / np.maximum(off + diag, 1e-300)


def jacobian_sweep(scores: dict[str, np.ndarray], alphas, *, max_rows: int = 256, max_keys: int = 512,
                   bias: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """For each score matrix and alpha: Jacobian spectral norms of softmax and sigmoid on alpha·S.

    Rows/keys beyond ``max_rows``/``max_keys`` are subsampled with a fixed seed (eigenvalues of a
    [keys, keys] matrix per row). Columns: source, alpha, score_inf_norm (median over rows of
    max|alpha·s|), softmax_norm_{median,max}, sigmoid_norm_{median,max}, softmax_offdiag_share.
    The Lipschitz constant of s -> f(alpha·s) is alpha times these norms.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for name, S in scores.items():
        S = np.asarray(S, dtype=np.float64)
        if S.ndim == 1:
            S = S[None, :]
        if S.ndim > 2:
            S = S.reshape(-1, S.shape[-1])
        S = S[np.isfinite(S).all(axis=1)]
        if S.shape[0] == 0 or S.shape[1] < 2:
            raise ValueError(f"score matrix {name!r} has no usable rows of >= 2 finite keys.")
        if S.shape[0] > max_rows:
            S = S[np.sort(rng.choice(S.shape[0], max_rows, replace=False))]
        if S.shape[1] > max_keys:
            S = S[:, np.sort(rng.choice(S.shape[1], max_keys, replace=False))]
        for alpha in alphas:
            scaled = float(alpha) * S
            soft = softmax_jacobian_norms(scaled)
            sig = sigmoid_jacobian_norms(scaled, bias)
            rows.append({
                "source": name, "alpha": float(alpha), "rows": S.shape[0], "keys": S.shape[1],
                "score_inf_norm": float(np.median(np.abs(scaled).max(axis=1))),
                "softmax_norm_median": float(np.median(soft)), "softmax_norm_max": float(soft.max()),
                "sigmoid_norm_median": float(np.median(sig)), "sigmoid_norm_max": float(sig.max()),
                "softmax_offdiag_share": float(np.median(softmax_offdiag_share(scaled))),
            })
    return pd.DataFrame(rows)


def read_attention_scores(path) -> dict[str, np.ndarray]:
    """All numeric arrays of >= 1 dimension in an attention_scores.npz, by name (tolerant of layout)."""
    out = {}
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            arr = npz[key]
            if arr.dtype.kind in "fiu" and arr.ndim >= 1 and arr.shape[-1] >= 2:
                out[key] = arr.astype(np.float64)
    if not out:
        raise ValueError(f"{path}: no 2-D numeric score arrays found; expected arrays like 'layer0' [rows, keys].")
    return out
