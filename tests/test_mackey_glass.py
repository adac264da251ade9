"""Tests of the Mackey-Glass experiment (lmu.experiments.mackey_glass)."""

from collections import deque

import numpy as np
import pytest

from lmu.experiments import mackey_glass as mg


def _reference_series(n_series, length, seed):
    """Straightforward re-statement of the protocol: one deque of sub-step values per series."""
    rng = np.random.RandomState(seed)
    init = 1.2 + 0.2 * (rng.rand(170, n_series) - 0.5)
    out = np.empty((n_series, length))
    for j in range(n_series):
        history = deque(init[:, j])
        for t in range(length):
            for k in range(10):
                x = history[-1]
                x_tau = history.popleft()
                history.append(x + (0.2 * x_tau / (1 + x_tau**10) - 0.1 * x) / 10)
                if k == 0:
                    out[j, t] = history[-1]
    return np.tanh(out - 1)


def test_generator_follows_the_protocol():
    s = mg.mackey_glass_series(3, 400, seed=0)
    assert s.shape == (3, 400)
    np.testing.assert_allclose(s, _reference_series(3, 400, seed=0), rtol=0, atol=1e-12)


def test_generator_is_seeded_and_leaves_the_global_rng_alone():
    state = np.random.get_state()[1].copy()
    a = mg.mackey_glass_series(4, 300, seed=0)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    np.testing.assert_array_equal(a, mg.mackey_glass_series(4, 300, seed=0))
    assert not np.allclose(a, mg.mackey_glass_series(4, 300, seed=1))
    assert not np.allclose(a[0], a[1])  # each series has its own random history
    # the global-RNG formulation of the protocol gives the same numbers
    saved = np.random.get_state()
    try:
        np.random.seed(0)
        h = 1.2 + 0.2 * (np.random.rand(170, 4) - 0.5)
    finally:
        np.random.set_state(saved)
    # first sample: one Euler sub-step from the last history value, delayed value = the oldest
    x1 = h[-1] + (0.2 * h[0] / (1 + h[0] ** 10) - 0.1 * h[-1]) / 10
    np.testing.assert_allclose(a[:, 0], np.tanh(x1 - 1))


def test_series_range():
    s = mg.mackey_glass_series(8, 2000, seed=0)[:, 100:]
    # the attractor of tau = 17 stays within about [0.2, 1.4]; tanh(x - 1) maps it into (-0.7, 0.4)
    assert -0.7 < s.min() < -0.3 and 0.2 < s.max() < 0.4
    assert np.all(np.isfinite(s))


@pytest.mark.parametrize("task", mg.TASKS)
def test_dataset_shapes_and_alignment(task):
    d = mg.make_dataset(n_series=6, length=200, task=task, seed=0)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert d[key].shape == (3, 200, 1) and d[key].dtype == np.float32
    assert d["series"].shape == (6, 215)
    assert abs(d["series"].mean()) < 1e-12  # global mean removed
    x = np.concatenate([d["x_train"], d["x_test"]])[..., 0]
    y = np.concatenate([d["y_train"], d["y_test"]])[..., 0]
    if task == "predict":  # target = input 15 steps later
        np.testing.assert_array_equal(y[:, :-15], x[:, 15:])
    else:  # the paper's swap: target = input 15 steps earlier
        np.testing.assert_array_equal(y[:, 15:], x[:, :-15])
    raw = mg.mackey_glass_series(6, 315, seed=0)[:, 100:]
    np.testing.assert_allclose(d["series"], raw - raw.mean())
    with pytest.raises(ValueError, match="task"):
        mg.make_dataset(4, 50, task="forward")


def test_identity_baseline_matches_the_paper():
    # full-size data (128 series of 5,000 samples): predicting "no change" has the paper's NRMSE
    d = mg.make_dataset(task="predict")
    assert d["x_train"].shape == (64, 5000, 1)
    baseline = 100 * float(np.sqrt(np.mean((d["x_test"] - d["y_test"]) ** 2) / np.mean(d["y_test"] ** 2)))
    assert baseline == pytest.approx(mg.PAPER["predict"]["baseline"], abs=1.0)


@pytest.mark.parametrize(
    "kind, corrected, trainable, non_trainable",
    [
        # 4 x LSTM(25): 2,700 + 3 x 5,100; Dense(1): 26
        ("lstm", True, 18_026, 0),
        # LMU(49, order 4): 2,700 (n_in 1) + 3 x 5,100; Dense(49 -> 1): 50; AT, BT: 4 x 20 fixed
        ("lmu", False, 18_050, 80),
        ("lmu", True, 18_050 + 4 * 49, 80),  # + a bias per unit
        # LMU(40): 1,845; LSTM(25 <- 40): 6,600; LMU(40 <- 25): 2,829; LSTM: 6,600; Dense: 26
        ("hybrid", False, 17_900, 40),
        ("hybrid", True, 17_980, 40),
    ],
)
def test_model_sizes(kind, corrected, trainable, non_trainable):
    model = mg.build_model(kind, corrected=corrected)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == trainable
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == non_trainable
    assert abs(trainable - 18_000) < 300  # "about 18k parameters each"
    assert tuple(model(np.zeros((2, 9, 1), "float32")).shape) == (2, 9, 1)
    with pytest.raises(ValueError, match="kind"):
        mg.build_model("gru")


def test_training_resumes_from_a_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("LMU_PROGRESS", "0")
    data = mg.make_dataset(n_series=4, length=40)
    stem = tmp_path / "lstm"
    first = mg.train_model("lstm", data, 2, batch_size=1, checkpoint=stem, every=1)
    assert first["resumed_from"] == 0 and len(first["history"]["loss"]) == 2
    again = mg.train_model("lstm", data, 3, batch_size=1, checkpoint=stem, every=1)
    assert again["resumed_from"] == 2 and len(again["history"]["loss"]) == 3
    assert again["best_epoch"] in (1, 2, 3)


def test_quick_run_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("LMU_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("LMU_PROGRESS", "0")
    res = mg.run(mode="quick", models=("lmu",), n_series=4, length=40, epochs=2)
    assert (tmp_path / "quick" / "mackey_glass.json").exists()
    for task in mg.TASKS:
        entry = res[task]["lmu"]
        assert np.isfinite(entry["nrmse_percent"]) and entry["nrmse_percent"] > 0
        assert entry["n_params"]["trainable"] == (18_246 if task == "predict" else 18_050)
        assert res[task]["baseline_nrmse_percent"] > 100
    rows = {r["quantity"]: r for r in mg.comparison_rows()}
    row = rows["corrected task (predict 15 steps ahead): LMU test NRMSE (%)"]
    assert row["paper"] == 4.873 and row["quick"] == pytest.approx(res["predict"]["lmu"]["nrmse_percent"])
    assert rows["paper's swapped task: LSTM test NRMSE (%)"]["quick"] == "not run: LSTM, hybrid"


def test_models_run_one_at_a_time_are_merged(tmp_path, monkeypatch):
    """A run of one model keeps the results (and timings) of the models run before it."""
    monkeypatch.setenv("LMU_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("LMU_PROGRESS", "0")
    sizes = dict(mode="quick", n_series=4, length=40, epochs=1)
    probed = mg.run(models=("lstm",), probe_epochs=1, **sizes)
    assert probed["probe"]["lstm"]["epochs"] == 1 and probed["probe"]["lstm"]["s_per_epoch"] > 0
    assert probed["not_run"] == "not run: LSTM, LMU, hybrid"  # LMU and hybrid were not timed
    first = mg.run(models=("lmu",), **sizes)
    assert first["not_run"] == "not run: LSTM, hybrid"
    second = mg.run(models=("hybrid",), tasks=("swapped",), **sizes)
    for task in mg.TASKS:  # the LMU of the first run is still there
        assert second[task]["lmu"]["nrmse_percent"] == first[task]["lmu"]["nrmse_percent"]
    assert "hybrid" in second["swapped"] and "hybrid" not in second["predict"]
    assert "probe" in second and second["probe"]["lstm"] == probed["probe"]["lstm"]
    rows = {r["quantity"]: r for r in mg.comparison_rows()}
    assert rows["paper's swapped task: LSTM test NRMSE (%)"]["quick"] == "not run: LSTM, hybrid"
    assert rows["LSTM: seconds per epoch, swapped task (paper: GPU; ours: 2 shared CPU cores)"]["quick"] == (
        probed["probe"]["lstm"]["s_per_epoch"])
    other = mg.run(models=("lmu",), tasks=("swapped",), mode="quick", n_series=4, length=40, epochs=2)
    assert "lstm" not in other.get("probe", {})  # other settings: nothing is merged
    with pytest.raises(ValueError, match="models"):
        mg.run(models=("gru",), **sizes)
