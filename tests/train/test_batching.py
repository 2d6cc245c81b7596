import numpy as np
import pytest

from scsigmoid.data.corpus import CLS_ID, MASK_ID, PAD_ID
from scsigmoid.train.batching import IGNORE, batch_plan, mask_tokens, token_batch_plan
from scsigmoid.train.trainer import TrainConfig, lr_at


def test_batch_plan_is_deterministic_bucketed_and_covers_epochs():
    lengths = np.random.default_rng(0).integers(5, 500, size=1000)
    plan = batch_plan(lengths, batch_size=10, steps=150, seed=3)
    again = batch_plan(lengths, batch_size=10, steps=150, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(plan, again, strict=True))
    assert len(plan) == 150 and all(len(b) == 10 for b in plan)
    first_epoch = np.concatenate(plan[:100])
    assert len(np.unique(first_epoch)) == 1000  # each cell once per epoch
    padded = sum(lengths[b].max() * len(b) for b in plan)
    rng = np.random.default_rng(1)
    padded_random = sum(lengths[rng.choice(1000, 10, replace=False)].max() * 10 for _ in plan)
    assert padded < 0.6 * padded_random  # bucketing removes most padding
    assert not np.array_equal(plan[0], batch_plan(lengths, batch_size=10, steps=1, seed=4)[0])


def test_batch_plan_rejects_tiny_corpus():
    with pytest.raises(ValueError, match="fewer than batch_size=8"):
        batch_plan(np.ones(3), batch_size=8, steps=1, seed=0)


def test_token_batch_plan_fills_the_budget_with_cells_of_similar_length():
    """Cell batches of a long-tailed pool range from a few hundred to tens of thousands of tokens
    (each step weighs the same, so a short cell's token weighs ~100x a long one's); token batches
    hold nearly the budget, whatever the lengths, with each cell once an epoch."""
    lengths = np.minimum(np.random.default_rng(0).lognormal(4.3, 1.0, 3000).astype(int) + 1, 1024)
    plan = token_batch_plan(lengths, tokens=4096, steps=400, seed=3)
    assert all(np.array_equal(a, b) for a, b in
               zip(plan, token_batch_plan(lengths, tokens=4096, steps=400, seed=3), strict=True))
    assert not np.array_equal(plan[0], token_batch_plan(lengths, tokens=4096, steps=1, seed=4)[0])
    sums = np.array([lengths[b].sum() for b in plan])
    assert sums.max() <= 4096 and np.median(sums) > 0.97 * 4096 and sums.min() >= 0.5 * 4096
    cells = np.array([len(b) for b in plan])
    assert cells.min() <= 8 and cells.max() >= 100  # long cells few a batch, short cells many
    seen: set[int] = set()
    for batch in plan:  # the first epoch: batches until a cell comes again
        if seen & set(batch.tolist()):
            break
        seen |= set(batch.tolist())
    assert len(seen) > 0.95 * len(lengths)  # each cell once; few held over in pools' last batches
    spread = np.median([lengths[b].max() / lengths[b].min() for b in plan])
    assert spread < 1.5  # bucketed: little padding in the padded layout
    cell_plan = batch_plan(lengths, batch_size=64, steps=400, seed=3)
    cell_sums = np.array([lengths[b].sum() for b in cell_plan])
    assert cell_sums.max() / cell_sums.min() > 20  # what token batches are for


def test_token_batch_plan_refuses_a_budget_below_a_cell():
    with pytest.raises(ValueError, match="a cell of 300 tokens does not fit batch_tokens=256"):
        token_batch_plan(np.array([10, 300, 20]), tokens=256, steps=1, seed=0)
    with pytest.raises(ValueError, match="less than one batch"):
        token_batch_plan(np.array([10, 20]), tokens=256, steps=1, seed=0)
    with pytest.raises(ValueError, match="batch_tokens .16. must be at least the context .32."):
        TrainConfig(corpus="c", out_dir="o", checkpoint_dir="k", context=32, batch_tokens=16)


def test_masking_rates_special_tokens_and_determinism():
    rng = np.random.default_rng(0)
    lens = rng.integers(50, 400, size=64)
    tokens = np.full((64, 400), PAD_ID)
    for i, n in enumerate(lens):
        tokens[i, 0] = CLS_ID
        tokens[i, 1:n] = rng.integers(4, 1000, size=n - 1)
    inputs, labels = mask_tokens(tokens, lens, vocab_size=1000, seed=7, step=2)
    again, _ = mask_tokens(tokens, lens, vocab_size=1000, seed=7, step=2)
    other, _ = mask_tokens(tokens, lens, vocab_size=1000, seed=7, step=3)
    assert np.array_equal(inputs, again) and not np.array_equal(inputs, other)
    chosen = labels != IGNORE
    assert not chosen[:, 0].any() and not chosen[tokens == PAD_ID].any()
    assert np.array_equal(labels[chosen], tokens[chosen])
    assert 0.14 < chosen.sum() / (lens - 1).sum() < 0.16
    as_mask = (inputs[chosen] == MASK_ID).mean()
    unchanged = (inputs[chosen] == tokens[chosen]).mean()
    assert 0.78 < as_mask < 0.82 and 0.09 < unchanged < 0.12  # 10% kept (+ rare random hits)
    assert np.array_equal(inputs[~chosen], tokens[~chosen])


def test_lr_schedule_warmup_cosine_and_constant():
    cfg = TrainConfig(corpus="", out_dir="", checkpoint_dir="", steps=100, lr=1.0, warmup_steps=10)
    assert lr_at(cfg, 0) == pytest.approx(0.1) and lr_at(cfg, 9) == pytest.approx(1.0)
    assert lr_at(cfg, 99) == pytest.approx(0.1, abs=1e-3)  # cosine to min_lr_ratio
    assert lr_at(cfg, 50) < lr_at(cfg, 20)
    const = TrainConfig(corpus="", out_dir="", checkpoint_dir="", steps=100, lr=1.0,
                        warmup_steps=10, schedule="constant")
    assert lr_at(const, 99) == 1.0
    with pytest.raises(ValueError, match="schedule must be"):
        TrainConfig(corpus="", out_dir="", checkpoint_dir="", schedule="linear")
