"""Data order and masking: a pure function of (seed, step), identical for both attention arms.

- :func:`batch_plan` yields global batches of cell indices, length-bucketed: each epoch is shuffled,
  cut into pools of ``pool_batches`` batches, sorted by length inside a pool, cut into batches,
  and the batch order is shuffled again. Padding is to the longest cell of a batch.
- :func:`token_batch_plan` does the same with batches cut by a token budget instead of a cell
  count: a batch holds as many cells of similar length as fit ``tokens``, so every step (and
  every token's share of the gradient) weighs about the same whatever the cells' lengths.
- :func:`mask_tokens` is BERT's 15% masking with 80/10/10 (mask / random gene / unchanged),
  never on CLS or padding, drawn from ``numpy.random.default_rng([seed, step])``. A restarted run
  and the other arm draw exactly the same masks.
"""

from __future__ import annotations

import numpy as np
import torch

from scsigmoid.data.corpus import CLS_ID, MASK_ID, N_SPECIAL, PAD_ID

IGNORE = -100  # label of positions that are not predicted


def batch_plan(
    lengths: np.ndarray, *, batch_size: int, steps: int, seed: int, pool_batches: int = 64
) -> list[np.ndarray]:
    """``steps`` global batches (int64 index arrays of ``batch_size``), length-bucketed."""
    n = len(lengths)
    if n < batch_size:
        raise ValueError(
            f"batch_plan: corpus has {n} cells, fewer than batch_size={batch_size}; "
            "lower the batch size or use a larger corpus."
        )
    rng = np.random.default_rng(seed)
    plan: list[np.ndarray] = []
    while len(plan) < steps:
        perm = rng.permutation(n)
        epoch = []
        pool = batch_size * pool_batches
        for start in range(0, n - batch_size + 1, pool):
            chunk = perm[start : start + pool]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            for b in range(0, len(chunk) - batch_size + 1, batch_size):
                epoch.append(chunk[b : b + batch_size])
        for i in rng.permutation(len(epoch)):
            plan.append(epoch[i])
    return plan[:steps]


def token_batch_plan(
    lengths: np.ndarray, *, tokens: int, steps: int, seed: int, pool_batches: int = 64,
    min_fill: float = 0.5,
) -> list[np.ndarray]:
    """``steps`` global batches of cell indices whose lengths sum to at most ``tokens``,
    length-bucketed: each epoch is shuffled, cut into pools of about ``pool_batches`` budgets of
    tokens, sorted by length inside a pool and cut greedily at the budget; a pool's last batch is
    kept when it holds at least ``min_fill`` of the budget (else its cells wait for the next epoch);
    the batch order is shuffled again. ``lengths`` are the lengths as trained (truncated)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        raise ValueError("token_batch_plan: the corpus has no cells.")
    if int(lengths.max()) > tokens:
        raise ValueError(
            f"token_batch_plan: a cell of {int(lengths.max())} tokens does not fit batch_tokens={tokens}; "
            "set train.batch_tokens to at least the context."
        )
    if int(lengths.sum()) < min_fill * tokens:
        raise ValueError(
            f"token_batch_plan: the corpus holds {int(lengths.sum())} tokens, less than one batch of "
            f"{tokens}; lower train.batch_tokens or use a larger corpus."
        )
    rng = np.random.default_rng(seed)
    plan: list[np.ndarray] = []
    while len(plan) < steps:
        perm = rng.permutation(len(lengths))
        pool_id = np.cumsum(lengths[perm]) // (tokens * pool_batches)
        epoch = []
        for pool in np.split(perm, np.flatnonzero(np.diff(pool_id)) + 1):
            pool = pool[np.argsort(lengths[pool], kind="stable")]
            start, total = 0, 0
            for j, n in enumerate(lengths[pool]):
                if total + n > tokens:
                    epoch.append(pool[start:j])
                    start, total = j, 0
                total += int(n)
            if total >= min_fill * tokens:
                epoch.append(pool[start:])
        for i in rng.permutation(len(epoch)):
            plan.append(epoch[i])
    return plan[:steps]


def mask_tokens(
    tokens: np.ndarray,
    seq_lens: np.ndarray,
    *,
    vocab_size: int,
    seed: int,
    step: int,
    mask_prob: float = 0.15,
) -> tuple[np.ndarray, np.ndarray]:
    """Mask a padded batch ``tokens [B, L]``; returns ``(inputs, labels)`` with labels IGNORE
    where nothing is predicted."""
    rng = np.random.default_rng([seed, step])
    bsz, length = tokens.shape
    valid = np.arange(length)[None, :] < seq_lens[:, None]
    maskable = valid & (tokens != CLS_ID) & (tokens != PAD_ID)
    draw = rng.random((bsz, length))
    chosen = maskable & (draw < mask_prob)
    action = rng.random((bsz, length))
    random_genes = rng.integers(N_SPECIAL, vocab_size, size=(bsz, length))
    inputs = tokens.copy()
    to_mask = chosen & (action < 0.8)
    to_random = chosen & (action >= 0.8) & (action < 0.9)
    inputs[to_mask] = MASK_ID
    inputs[to_random] = random_genes[to_random]
    labels = np.where(chosen, tokens, IGNORE)
    return inputs, labels


def make_batch(corpus, indices, *, context, vocab_size, seed, step, mask_prob=0.15,
               per_cell_masks=False):
    """Padded, masked batch of ``corpus`` cells ``indices`` truncated to ``context``:
    ``(inputs, labels, seq_lens)`` as int64 torch tensors. Masks come from ``[seed, step]`` for
    the whole batch, or with ``per_cell_masks`` from ``[seed, cell index]`` for each cell (then
    they do not depend on how cells are batched: validation)."""
    seqs = [corpus.cell(int(i), context) for i in indices]
    lens = np.array([len(s) for s in seqs], dtype=np.int64)
    tokens = np.full((len(seqs), int(lens.max())), PAD_ID, dtype=np.int64)
    for r, s in enumerate(seqs):
        tokens[r, : len(s)] = s
    if per_cell_masks:
        inputs, labels = tokens.copy(), np.full_like(tokens, IGNORE)
        for r, i in enumerate(indices):  # on the unpadded row: masks independent of batch width
            n = int(lens[r])
            inputs[r, :n], labels[r, :n] = (a[0] for a in mask_tokens(
                tokens[r : r + 1, :n], lens[r : r + 1], vocab_size=vocab_size, seed=seed,
                step=int(i), mask_prob=mask_prob))
    else:
        inputs, labels = mask_tokens(
            tokens, lens, vocab_size=vocab_size, seed=seed, step=step, mask_prob=mask_prob
        )
    return torch.from_numpy(inputs), torch.from_numpy(labels), torch.from_numpy(lens)
