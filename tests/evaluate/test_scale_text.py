import pandas as pd

from scsigmoid.evaluate.scale import scale_text


def _runs(contexts):
    return pd.DataFrame([{"size": "small", "params_total": 17.2e6, "context": c, "attention": a, "seed": s,
                          "steps_done": 3000, "tokens_seen": 93.3e6, "cells_seen": 192000}
                         for c in contexts for a in ("softmax", "sigmoid") for s in range(3)])


def test_scale_names_size_seeds_and_budget():
    text = scale_text(_runs([4096]))
    assert text == ("small model (17.2M parameters), 4K context, 3 seeds per arm; per run (median): "
                    "3K steps, 93.3M tokens seen, 192K cells seen")


def test_scale_names_the_configured_contexts_without_runs():
    # the committed runs of 2026-12-03: the 4K grid only, while train.contexts asks for 2K and 4K
    assert scale_text(_runs([4096]), configured=[2048, 4096]).endswith("; no runs at 2K")
    assert "no runs" not in scale_text(_runs([2048, 4096]), configured=[2048, 4096])
    assert scale_text(_runs([4096]), 2048) == "no runs at context 2048"
