import json

import numpy as np
import pytest

from lmu.experiments import common


def test_save_and_load_results_roundtrip(tmp_path, monkeypatch):
    monkeypatch.setenv("LMU_RESULTS_DIR", str(tmp_path))
    prov = common.provenance("full", seeds=[0, 1], data={"source": "test"}, epochs=3, wall_time_s=1.234)
    path = common.save_results("demo", {"mse": np.float64(0.5), "curve": np.arange(3), "bad": float("nan")}, prov)
    assert path == tmp_path / "demo.json"
    loaded = common.load_results("demo", "full")
    assert loaded["results"] == {"mse": 0.5, "curve": [0, 1, 2], "bad": "nan"}
    assert loaded["provenance"]["mode"] == "full"
    assert loaded["provenance"]["wall_time_s"] == 1.23
    assert "numpy" in loaded["provenance"]["versions"]
    # quick results never land on the full results file
    common.save_results("demo", {"mse": 1.0}, common.provenance("quick", seeds=0))
    assert json.loads((tmp_path / "demo.json").read_text())["results"]["mse"] == 0.5
    assert common.load_results("demo", "quick")["results"]["mse"] == 1.0
    assert common.load_results("missing", "full") is None


def test_comparison_table():
    md = common.comparison_table(
        [{"quantity": "test accuracy (%)", "paper": 97.15, "full": "not run here: too slow", "quick": 81.234}]
    )
    assert "| test accuracy (%) | 97.15 | not run here: too slow | 81.23 |" in md


def test_cli_parses_mode():
    seen = {}

    def run(mode=None, seed=None):
        seen.update(mode=mode, seed=seed)

    common.cli(run, "demo", ["--mode", "full", "--seed", "3"])
    assert seen == {"mode": "full", "seed": 3}
    with pytest.raises(SystemExit):
        common.cli(run, "demo", ["--mode", "fast"])


def test_full_and_quick(tmp_path, monkeypatch):
    monkeypatch.setenv("LMU_RESULTS_DIR", str(tmp_path))
    assert common.full_and_quick("demo") == (None, None)
    common.save_results("demo", {"x": 1}, common.provenance("full", seeds=0))
    common.save_results("demo", {"x": 2}, common.provenance("quick", seeds=0))
    assert common.full_and_quick("demo") == ({"x": 1}, {"x": 2})
    # a quick run's results, or its whole payload, may be passed in
    assert common.full_and_quick("demo", {"x": 3}) == ({"x": 1}, {"x": 3})
    payload = common.load_results("demo", "quick")
    assert common.full_and_quick("demo", payload) == ({"x": 1}, {"x": 2})
