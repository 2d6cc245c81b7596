"""The tile ceiling of padded ÷ dense (scsigmoid.bench.ceiling), worked by hand."""

import pandas as pd
import pytest

from scsigmoid.bench.ceiling import ceilings, tile_ceiling


def test_tile_ceiling_counts_whole_tiles_on_each_side():
    # 100 rows in 64-row tiles: 128 x 128 entries computed for 100 x 100 useful; 128 wastes nothing
    assert tile_ceiling([100, 128], 64, 64) == pytest.approx((100**2 + 128**2) / (2 * 128 * 128))
    # rows and columns tiled differently: 100 -> 128 rows x 112 columns (16-wide key tiles)
    assert tile_ceiling([100], 64, 16) == pytest.approx(100**2 / (128 * 112))
    assert tile_ceiling([512, 1024], 128, 64) == 1.0
    with pytest.raises(ValueError, match="tile sizes must be positive"):
        tile_ceiling([100], 0, 64)
    with pytest.raises(ValueError, match="non-negative"):
        tile_ceiling([], 64, 64)


def test_ceilings_pairs_each_padded_row_with_its_dense_row_and_each_launched_kernel():
    bench_cfg = {"tokens_per_batch": 2048, "hidden": 256, "seed": 0}
    base = {"status": "ok", "head_dim": 64, "seq_len": 512}
    bench = pd.DataFrame([
        {**base, "impl": "ours_dense", "pass": "bwd", "padding_pct": 0, "tflops": 200.0,
         "config": "dq@512=64,32,4,2:autotune;dkdv@512=32,128,8,2:autotune"},
        {**base, "impl": "ours_padded", "pass": "bwd", "padding_pct": 25, "tflops": 170.0,  # its forward: not timed
         "config": "fwd@512=64,64,4,3:autotune;dq@512=64,32,4,2:autotune;dkdv@512=32,128,8,2:autotune"},
        {**base, "impl": "ours_varlen", "pass": "fwd", "padding_pct": 25, "tflops": 90.0,  # no dense fwd row
         "config": "fwd@512=64,64,4,3:table"},
        {**base, "impl": "tritonsigmoid_padded", "pass": "bwd", "padding_pct": 25, "tflops": 1.0, "config": ""},
        {**base, "impl": "ours_varlen", "pass": "bwd", "padding_pct": 25, "tflops": 160.0,  # the fused backward
         "config": "fwd@512=64,64,4,3:table;dkdv_fused_tma@512=64,64,4,3:autotune"},
    ])
    out = ceilings(bench, bench_cfg)
    assert list(zip(out["impl"], out["kernel"], out["block_m"], out["block_n"], strict=True)) == [
        ("ours_padded", "dq", 64, 32), ("ours_padded", "dkdv", 32, 128), ("ours_varlen", "fwd", 64, 64),
        ("ours_varlen", "dkdv_fused_tma", 64, 64)]
    assert out["padded_over_dense"].iloc[0] == pytest.approx(0.85)
    assert out["padded_over_dense"].isna().iloc[2]
    # 4 sequences of 384..512 tokens: a partial tile on each side of most of them
    assert (out["ceiling"] < 1).all() and (out["ceiling"] > 0.7).all()


def test_ceilings_pair_each_repeat_with_its_own_dense_row():
    bench_cfg = {"tokens_per_batch": 2048, "hidden": 256, "seed": 0}
    base = {"status": "ok", "head_dim": 64, "seq_len": 512, "pass": "fwd", "config": "fwd@512=64,64,4,3:autotune"}
    bench = pd.DataFrame([
        {**base, "impl": "ours_dense", "padding_pct": 0, "tflops": 200.0, "repeat": 1},
        {**base, "impl": "ours_dense", "padding_pct": 0, "tflops": 100.0, "repeat": 2},
        {**base, "impl": "ours_padded", "padding_pct": 25, "tflops": 90.0, "repeat": 1},
        {**base, "impl": "ours_padded", "padding_pct": 25, "tflops": 90.0, "repeat": 2},
    ])
    out = ceilings(bench, bench_cfg)
    assert out[["repeat", "padded_over_dense"]].values.tolist() == [[1, 0.45], [2, 0.9]]
    assert out["ceiling"].nunique() == 1  # the same lengths in both repeats
