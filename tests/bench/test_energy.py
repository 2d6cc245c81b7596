"""The energy-a-call model: instructions from ncu's tidy CSVs, energies from power-diagnosis rows,
the two-parameter fit and its refusals."""

import pandas as pd
import pytest

from scsigmoid.bench import energy


def _profile(folder, impl, point, kernels):
    """A profile_points.sh folder holding one point: points.csv and ncu_<point>.csv with one
    'Executed Instructions' row per kernel (ncu writes thousands separators)."""
    folder.mkdir(parents=True, exist_ok=True)
    points = folder / "points.csv"
    row = pd.DataFrame([{"point": point, "impl": impl}])
    row.to_csv(points, mode="a", header=not points.exists(), index=False)
    ncu = pd.DataFrame([{"Kernel Name": k, "Metric Name": m, "Metric Value": v, "point": point}
                        for k, n in kernels.items()
                        for m, v in (("Executed Instructions", f"{n:,}"), ("Duration", "1,000"))])
    ncu.to_csv(folder / f"ncu_{point.replace(':', '_')}.csv", index=False)


def _diag(rows):
    return pd.DataFrame([dict(impl=impl, head_dim=128, seq_len=16384, status="ok", power_w=w, ms_median=ms,
                              **{"pass": "bwd"}) for impl, w, ms in rows])


def test_fit_recovers_the_energy_of_a_matmul_and_of_instructions(tmp_path):
    """Energies made as 1000 mJ a matmul + 500 mJ a 1e9 instructions: the fit finds both, residuals
    ~0, and prices a five-matmul design; a variant's instructions come from its own folder, named by
    points.csv's impl; energy is power x time, median over rounds."""
    point = "128:bwd:16384"
    _profile(tmp_path / "a", "ours_dense", f"ours_dense:{point}", {"dq": 2_000_000_000, "dkdv": 2_000_000_000})
    _profile(tmp_path / "a", "tritonsigmoid_dense", f"tritonsigmoid_dense:{point}", {"k": 5_000_000_000})
    _profile(tmp_path / "a", "cudnn_sdpa", f"cudnn_sdpa:{point}", {"pre": 100_000_000, "main": 2_900_000_000})
    _profile(tmp_path / "b", "ours_dense_tma", f"ours_dense:{point}", {"dq": 1_500_000_000, "dkdv": 1_500_000_000})
    truth = {"ours_dense": 7000 + 2000, "ours_dense_tma": 7000 + 1500, "tritonsigmoid_dense": 7000 + 2500,
             "cudnn_sdpa": 5000 + 1500}
    rows = [(impl, 700.0, mj / 700.0) for impl, mj in truth.items()]
    rows += [("ours_dense", 700.0, 9000 / 700.0 * 1.5), ("ours_dense", 700.0, 9000 / 700.0 * 0.5)]  # median kept
    rows += [("ours_dense", float("nan"), 99.0)]  # a round without power: left out
    diag = _diag(rows)
    t = energy.table([tmp_path / "a", tmp_path / "b"], diag, point)
    assert dict(zip(t["impl"], t["instructions_g"], strict=True))["cudnn_sdpa"] == pytest.approx(3.0)
    assert dict(zip(t["impl"], t["energy_mj"], strict=True)) == pytest.approx(truth)
    a, b, fitted = energy.fit(t)
    assert (a, b) == (pytest.approx(1000.0), pytest.approx(500.0))
    assert fitted["residual"].abs().max() < 1e-9
    out = energy.lines([tmp_path / "a", tmp_path / "b"], diag, point, [(5, 4.0)])
    assert "predicted: 5 matmuls at 4e9 instructions: 7000 mJ (1.077x cudnn_sdpa's, 0.778x ours_dense's" in out[-1]


def test_fit_refuses_too_few_arms_and_unknown_implementations(tmp_path):
    point = "128:bwd:16384"
    _profile(tmp_path, "ours_dense", f"ours_dense:{point}", {"k": 1_000_000_000})
    _profile(tmp_path, "cudnn_sdpa", f"cudnn_sdpa:{point}", {"k": 1_000_000_000})
    diag = _diag([("ours_dense", 700.0, 10.0), ("cudnn_sdpa", 700.0, 8.0), ("tritonsigmoid_dense", 700.0, 11.0)])
    with pytest.raises(ValueError, match="needs >= 3 implementations measured both ways"):
        energy.fit(energy.table([tmp_path], diag, point))  # TritonSigmoid has no profile: two arms
    with pytest.raises(ValueError, match="no matmul count on record for fa2_dense"):
        energy.matmuls("fa2_dense", "bwd")
    assert [energy.matmuls(i, "bwd") for i in ("ours_padded_tma", "ours_padded_tma_fused", "ours_dense_fused",
                                               "tritonsigmoid_padded", "cudnn_sdpa")] == [7, 5, 5, 7, 5]


def test_cli_names_missing_inputs(tmp_path, capsys):
    with pytest.raises(SystemExit, match="no such file or folder"):
        energy.main(["--profiles", str(tmp_path / "nope"), "--diag", str(tmp_path / "d.csv")])
    with pytest.raises(SystemExit):
        energy.main(["--profiles", str(tmp_path), "--diag", str(tmp_path), "--predict", "five"])
    assert "expected MATMULS:INSTRUCTIONS_G" in capsys.readouterr().err
