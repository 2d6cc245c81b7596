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


def test_ctas_per_sm_takes_the_scarcest_resource():
    from scsigmoid.bench.ceiling import ctas_per_sm

    # 255 registers -> 8,192 a warp (256-register units), 4 warps: 32,768 -> 2; 96 KB (+1 KB) -> 2
    assert ctas_per_sm(255, 4, 98304) == 2
    # 150 registers x 8 warps = 38,912 -> 1 (shared memory would allow 1 as well: 128 KB)
    assert ctas_per_sm(150, 8, 131072) == 1
    # 126 registers round up to 128 a thread: 4,096 a warp x 8 = 32,768 -> 2
    assert ctas_per_sm(126, 8, 98304) == 2
    assert ctas_per_sm(32, 4, 8192) == 16 and ctas_per_sm(16, 1, 0) == 32  # then warps, then the CTA cap


def test_schedule_model_counts_tiles_and_waves_by_hand():
    from scsigmoid.bench.ceiling import makespan, schedule_model

    assert makespan([3, 3, 3, 1], 3) == 4 and makespan([5], 8) == 5
    # one sequence of 192 rows in a slot of 256, 64x64 tiles, 3 slots: padded 3 live row blocks of
    # 3 key tiles each (and one empty) finish in one wave; dense 4 blocks of 4 tiles need two
    # waves: padded 192^2 / (3 slots * 192*64) = 1.0, dense 256^2 / (3 * 2 * 256*64) = 2/3
    assert schedule_model([192], 256, 1, "fwd", 64, 64, 3) == pytest.approx(1.5)
    # one slot: no waves to lose, only the tiles: 100 rows cost 2 x 2 tiles, dense 128 rows the same
    assert schedule_model([100], 128, 1, "fwd", 64, 64, 1) == pytest.approx(100**2 / 128**2)
    # dK/dV owns key blocks of BLOCK_N and loops over query blocks of BLOCK_M: 100 rows with 32-row
    # query tiles cost ceil(100/32)*32 = 128 rows a key block, the same 2 key blocks as the forward
    assert schedule_model([100], 128, 1, "dkdv", 32, 64, 1) == pytest.approx(100**2 / 128**2)
    assert schedule_model([100], 128, 1, "fwd", 32, 64, 1) == pytest.approx(100**2 / (128 * 128))
    assert schedule_model([100], 128, 2, "fwd", 64, 64, 1) == pytest.approx(100**2 / 128**2)  # heads scale both


def test_persistent_balance_by_hand_strided_against_handed_out_in_order():
    from scsigmoid.bench.ceiling import persistent_balance, strided_makespan

    assert strided_makespan([5, 1, 1, 5], 2) == 6 and strided_makespan([5, 1, 1, 5], 9) == 5
    # dK/dV items (key blocks of 64 keys, query tiles of 64): sequences of 256 and 64 rows in slots
    # of 256, one head: items cost 4,4,4,4 tiles (the long one's four key blocks) then 1,0,0,0;
    # two programs by stride take 4+4+1+0 and 4+4+0+0 (9 of a mean 8.5), in order 4+4+1 and 4+4
    strided, in_order = persistent_balance([256, 64], 256, 1, "dkdv", 64, 64, 2)
    assert strided == pytest.approx(9 / 8.5) and in_order == pytest.approx(9 / 8.5)
    # equal items balance both ways; a long item last in one program's stride does not in order
    assert persistent_balance([256, 256], 256, 1, "dkdv", 64, 64, 4) == (1.0, 1.0)
    strided, in_order = persistent_balance([64, 64, 256], 256, 1, "dkdv", 64, 64, 4)
    # items: 1,0,0,0, 1,0,0,0, 4,4,4,4 -> stride: program 0 takes 1+1+4 = 6; in order: 4 at most
    assert strided == pytest.approx(6 / 4.5) and in_order == pytest.approx(5 / 4.5)


def test_ceilings_add_occupancy_and_the_schedule_model_from_the_compiled_configs():
    bench_cfg = {"tokens_per_batch": 2048, "hidden": 256, "seed": 0}
    base = {"status": "ok", "head_dim": 64, "seq_len": 512, "pass": "fwd", "config": "fwd@512=64,64,4,3:autotune"}
    bench = pd.DataFrame([{**base, "impl": "ours_dense", "padding_pct": 0, "tflops": 100.0},
                          {**base, "impl": "ours_padded", "padding_pct": 25, "tflops": 80.0}])
    res = pd.DataFrame([{"kernel": "fwd", "head_dim": 64, "dtype": "bf16", "sigmoid": s, "block_m": 64, "block_n": 64,
                         "num_warps": 4, "num_stages": 3, "registers": regs, "shared_bytes": 49152}
                        for s, regs in (("bf16x2", 128), ("fma", 255))])
    out = ceilings(bench, bench_cfg, res, sms=2)
    # the default's forward is bf16x2 (128 registers: 4 CTAs), not the fma row's 255 registers (2)
    assert out["ctas_per_sm"].tolist() == [4]
    assert (out["schedule_model"] > 0).all() and out["schedule_model"].notna().all()
    assert ceilings(bench, bench_cfg, res.iloc[:0])["ctas_per_sm"].isna().all()  # config not compiled
    assert "schedule_model" not in ceilings(bench, bench_cfg)  # no resources: the tile ceiling alone


def test_tile_table_prices_each_tile_at_each_length_and_the_cli_refuses_bad_tiles(capsys):
    from scsigmoid.bench.ceiling import main, parse_tile, tile_table

    assert parse_tile("128x64") == (128, 64) and parse_tile(" 64 × 32 ") == (64, 32)
    for bad in ("12", "0x64", "64x", "axb"):
        with pytest.raises(ValueError, match="ROWSxCOLUMNS"):
            parse_tile(bad)
    bench_cfg = {"tokens_per_batch": 4096, "hidden": 256, "seed": 0, "seq_lens": [512, 1024, 4096]}
    table = tile_table(bench_cfg, [(1, 1), (128, 128), (64, 64)], padding_pct=25)
    assert table["seq_len"].tolist() == [512, 1024, 4096] and table["sequences"].tolist() == [8, 4, 1]
    # 25 % padding: every length in [0.75 L, L]; a 1 x 1 tile wastes nothing
    assert ((table["shortest"] >= 0.75 * table["seq_len"]) & (table["longest"] <= table["seq_len"])).all()
    assert (table["1x1"] == 1.0).all()
    # a smaller tile wastes less of each partial tile, so its ceiling is never lower
    assert (table["64x64"] >= table["128x128"]).all() and (table["128x128"] < 1).all()
    main(["--tiles", "64x32", "--padding", "10"])
    assert "64x32" in capsys.readouterr().out
    for argv, message in ((["--tiles", "12"], "ROWSxCOLUMNS"), (["x.csv", "--tiles", "64x64"], "not both"),
                          ([], "give a benchmark CSV"), (["--tiles", "64x64", "--padding", "0"], "per cent")):
        with pytest.raises(SystemExit):
            main(argv)
        assert message in capsys.readouterr().err
