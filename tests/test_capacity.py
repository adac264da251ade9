"""Tests of the memory-capacity experiment (lmu.experiments.capacity)."""

import numpy as np
import pytest

from lmu.experiments import capacity, common


def test_delay_steps():
    np.testing.assert_array_equal(capacity.delay_steps(100), [0, 25, 50, 75, 100])
    np.testing.assert_array_equal(capacity.delay_steps(25), [0, 6, 12, 18, 25])
    np.testing.assert_array_equal(capacity.delay_steps(100_000), [0, 25_000, 50_000, 75_000, 100_000])
    with pytest.raises(TypeError, match="T"):
        capacity.delay_steps(2.5)
    with pytest.raises(ValueError, match="T"):
        capacity.delay_steps(2)


def test_sequences_follow_the_protocol():
    T = 100
    u = capacity.make_sequences(T, n_sequences=6, seed=0)
    assert u.shape == (6, 250)
    np.testing.assert_allclose(np.abs(u).max(axis=1), 1.0)  # each divided by its max |value|
    assert np.all(np.abs(u[:, 0]) < 0.05)  # starts at (the sample nearest) zero
    # band-limited: nothing above 10 Hz (the window is 1 s, so dt = 1/T s)
    spectrum = np.abs(np.fft.rfft(u, axis=1))
    freqs = np.fft.rfftfreq(250, d=1.0 / T)
    assert spectrum[:, freqs > 10.0].max() < 1e-9 * spectrum.max()
    assert spectrum[:, (freqs > 0) & (freqs <= 10.0)].min() > 0
    # same seed, same data; sequences drawn in turn, so `keep` selects from the same stream
    np.testing.assert_array_equal(u, capacity.make_sequences(T, n_sequences=6, seed=0))
    np.testing.assert_array_equal(u[3:5], capacity.make_sequences(T, n_sequences=6, seed=0, keep=slice(3, 5)))
    assert not np.allclose(u, capacity.make_sequences(T, n_sequences=6, seed=1))
    assert not np.allclose(u[0], u[1])


def test_delayed_targets_and_mse():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(3, 250))
    y = capacity.delayed_targets(u, 100)
    assert y.shape == (3, 250, 5)
    for k, s in enumerate([0, 25, 50, 75, 100]):
        np.testing.assert_array_equal(y[:, s:, k], u[:, : 250 - s])
        assert np.all(y[:, :s, k] == 0)
    np.testing.assert_array_equal(capacity.mse_per_delay(y, u, 100), np.zeros(5))
    shifted = y.copy()
    shifted[:, 100:, 2] += 0.5
    shifted[:, :100, 3] += 9.0  # errors before t = T are not counted
    np.testing.assert_allclose(capacity.mse_per_delay(shifted, u, 100), [0, 0, 0.25, 0, 0])
    with pytest.raises(ValueError, match="outputs"):
        capacity.mse_per_delay(y[..., :4], u, 100)
    with pytest.raises(ValueError, match="u"):
        capacity.delayed_targets(u[0], 100)


def test_lmu0_readout_is_the_legendre_initializer():
    W = capacity.lmu0_readout()
    assert W.shape == (100, 5)
    i = np.arange(100)
    np.testing.assert_allclose(W[:, 0], (-1.0) ** i)  # P_i(-1): delay 0
    np.testing.assert_allclose(W[:, -1], 1.0)  # P_i(1): delay theta
    np.testing.assert_allclose(W[:, 2], np.where(i % 2, 0.0, W[:, 2]))  # P_odd(0) = 0


def test_lmu0_recalls_its_window_and_improves_with_T():
    mse100 = capacity.lmu0_test_mse(100, group=40)
    mse1000 = capacity.lmu0_test_mse(1000, group=40)
    assert mse100.shape == (5,)
    # the inputs have unit peak and mean square ~0.1: recall is far better than guessing 0
    assert np.all(mse100 < 0.03)
    assert np.all(mse1000 < mse100 / 10)  # finer sampling of the same 1 s window
    assert np.all(np.diff(mse100) > 0)  # longer delays are harder
    # grouping does not change the numbers
    np.testing.assert_allclose(capacity.lmu0_test_mse(100, group=7), mse100, rtol=1e-10)


def test_keras_lmu0_matches_the_fft_path():
    u = capacity.make_sequences(100, n_sequences=3)
    model = capacity.build_lmu0_keras(100)
    assert model.trainable_weights == []
    y_keras = model.predict(u[..., None].astype("float32"), verbose=0)
    y_numpy = capacity.lmu0_outputs(u, 100)
    assert y_keras.shape == y_numpy.shape == (3, 250, 5)
    np.testing.assert_allclose(y_keras, y_numpy, atol=2e-5)


def test_lstm_has_the_papers_size():
    model = capacity.build_lstm()
    # LSTM(100) on 1 input: 4 * (100 * (1 + 100) + 100) = 40,800; Dense(5): 505
    assert model.count_params() == 41_305
    out = model(np.zeros((2, 7, 1), "float32"))
    assert tuple(out.shape) == (2, 7, 5)


def test_quick_run_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("LMU_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("LMU_PROGRESS", "0")
    res = capacity.run(mode="quick", lstm_T=(25,), lmu_T=(100,), epochs=2)
    assert (tmp_path / "quick" / "capacity.json").exists()
    assert not (tmp_path / "capacity.json").exists()
    assert len(res["lmu0"]["100"]["test_mse"]) == 5
    lstm = res["lstm"]["25"]
    assert len(lstm["history"]["loss"]) == 2 and lstm["n_params"] == 41_305
    assert np.all(np.isfinite(lstm["test_mse"]))
    assert res["lstm_not_run"] == {"100": "not run here (time budget)"}
    rows = capacity.comparison_rows()
    by_name = {r["quantity"]: r for r in rows}
    row = by_name["LSTM, T = 25: final validation MSE"]
    assert row["paper"] == 0.019 and row["quick"] == pytest.approx(lstm["final_val_mse"])
    assert row["full"].startswith("not run here")
    assert by_name["LSTM, T = 100: final validation MSE"]["quick"] == "not run here (time budget)"
    assert "| LSTM, T = 25: final validation MSE | 0.02 |" in common.comparison_table(rows)


def test_cli_passes_extra_options():
    seen = {}

    def run(mode=None, seed=0, lstm_T=None, epochs=None):
        seen.update(mode=mode, lstm_T=lstm_T, epochs=epochs)

    options = {"--lstm-T": {"type": int, "nargs": "+"}, "--epochs": {"type": int}}
    common.cli(run, "demo", ["--mode", "full", "--lstm-T", "25", "100"], options=options)
    assert seen == {"mode": "full", "lstm_T": [25, 100], "epochs": None}


def test_training_state_roundtrip_keeps_adam_moments(tmp_path):
    model = capacity.build_lstm(units=4)
    x = np.random.default_rng(0).normal(size=(4, 6, 1)).astype("float32")
    model.fit(x, np.zeros((4, 6, 5), "float32"), epochs=1, verbose=0)
    path = common.save_training_state(model, tmp_path / "state.npz", extra={"best_0": np.arange(3)})
    fresh = capacity.build_lstm(units=4, seed=1)
    extra = common.load_training_state(fresh, path)
    np.testing.assert_array_equal(extra["best_0"], np.arange(3))
    for a, b in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert len(fresh.optimizer.variables) == len(model.optimizer.variables)
    for a, b in zip(model.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fresh.optimizer.iterations.numpy()) == 1
    with pytest.raises(ValueError, match="weights"):
        common.load_training_state(capacity.build_lstm(units=3), path)


def test_lstm_training_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("LMU_PROGRESS", "0")
    first = capacity.train_lstm(25, 2, checkpoint=tmp_path, every=1)
    assert first["resumed_from"] == 0 and len(first["history"]["loss"]) == 2
    assert (tmp_path / "lstm_T25_e2_s0.state.npz").exists()
    # a longer run with the same checkpoint name starts where the saved one stopped
    (tmp_path / "lstm_T25_e3_s0.state.npz").write_bytes((tmp_path / "lstm_T25_e2_s0.state.npz").read_bytes())
    (tmp_path / "lstm_T25_e3_s0.json").write_text((tmp_path / "lstm_T25_e2_s0.json").read_text())
    again = capacity.train_lstm(25, 3, checkpoint=tmp_path, every=1)
    assert again["resumed_from"] == 2 and len(again["history"]["loss"]) == 3
    assert again["history"]["loss"][:2] == first["history"]["loss"]
