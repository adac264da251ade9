"""Tests of lmu.PhasedLSTMCell: the time gate against hand-computed values,
the reduction to a plain LSTM, parameter counts, serialization and errors."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import lmu  # noqa: E402
from lmu.phased_lstm import PhasedLSTMCell  # noqa: E402


def _built_cell(units=4, n_in=1, **kwargs):
    cell = PhasedLSTMCell(units, **kwargs)
    cell.build((None, n_in + (1 if kwargs.get("time_input") else 0)))
    return cell


def _set_gate(cell, period, shift, ratio_on):
    u = cell.units
    cell.period.assign(np.broadcast_to(np.asarray(period, "float32"), (u,)))
    cell.shift.assign(np.broadcast_to(np.asarray(shift, "float32"), (u,)))
    cell.ratio_on.assign(np.broadcast_to(np.asarray(ratio_on, "float32"), (u,)))


def _gate(cell, t, training):
    return keras.ops.convert_to_numpy(cell.time_gate(np.asarray(t, "float32"), training=training))


# ------------------------------------------------------------------ time gate
def test_lazy_export():
    assert lmu.PhasedLSTMCell is PhasedLSTMCell


@pytest.mark.parametrize(
    "t, expected, phase",
    [
        # period 10, shift 2, r_on 0.2: open for phi in [0, 0.2), peak at phi = 0.1
        (2.5, 0.5, "rising: phi = 0.05, k = 2*0.05/0.2"),
        (2.0, 0.0, "rising: phi = 0, gate starts to open"),
        (3.0, 1.0, "peak: phi = 0.1 = r_on/2, k = 2 - 2*0.1/0.2"),
        (3.5, 0.5, "falling: phi = 0.15, k = 2 - 2*0.15/0.2"),
        (3.8, 0.2, "falling: phi = 0.18, k = 2 - 2*0.18/0.2"),
        (12.5, 0.5, "next period: phi = 0.05"),
        (-7.5, 0.5, "negative time: (-9.5 mod 10)/10 = 0.05"),
    ],
)
def test_time_gate_open_phase_hand_values(t, expected, phase):
    cell = _built_cell(leak=1e-3)
    _set_gate(cell, period=10.0, shift=2.0, ratio_on=0.2)
    for training in (False, True):  # the open phase does not depend on the leak
        np.testing.assert_allclose(_gate(cell, [t], training), expected, atol=1e-5, err_msg=phase)


@pytest.mark.parametrize("t, phi", [(7.0, 0.5), (1.0, 0.9), (4.0, 0.2), (11.0, 0.9)])
def test_time_gate_closed_leaks_only_in_training(t, phi):
    leak = 1e-3
    cell = _built_cell(leak=leak)
    _set_gate(cell, period=10.0, shift=2.0, ratio_on=0.2)
    np.testing.assert_allclose(_gate(cell, [t], True), leak * phi, rtol=1e-4)
    np.testing.assert_array_equal(_gate(cell, [t], False), 0.0)


def test_time_gate_per_unit_parameters():
    cell = _built_cell(units=3)
    _set_gate(cell, period=[4.0, 100.0, 8.0], shift=[0.0, 10.0, 1.0], ratio_on=[0.5, 0.1, 1.0])
    # t = 1: unit 0 phi = 0.25 = r/2 -> 1; unit 1 phi = (-9 mod 100)/100 = 0.91 -> closed;
    # unit 2 phi = 0 -> 0 (start of an always-open triangle)
    np.testing.assert_allclose(_gate(cell, [1.0], False), [[1.0, 0.0, 0.0]], atol=1e-6)
    # t = 5: unit 0 phi = 0.25 -> 1; unit 1 phi = 0.95 -> closed; unit 2 phi = 0.5 -> 1
    np.testing.assert_allclose(_gate(cell, [5.0], False), [[1.0, 0.0, 1.0]], atol=1e-6)
    # t = 11.5: unit 1 phi = 0.015 -> 2*0.015/0.1 = 0.3
    np.testing.assert_allclose(_gate(cell, [11.5], False)[0, 1], 0.3, atol=1e-5)
    # a batch of times gives a (batch, units) gate
    assert _gate(cell, [1.0, 5.0, 11.5], False).shape == (3, 3)


def _rnn(cell, x, training):
    return keras.ops.convert_to_numpy(keras.layers.RNN(cell, return_sequences=True)(x, training=training))


def test_closed_gate_freezes_the_state_at_inference_and_leaks_in_training(rng):
    cell = _built_cell(units=5, leak=1e-2)
    # period 1000, shift -500: phi = (t + 500)/1000 >= 0.5 for t < 500 -> closed
    _set_gate(cell, period=1000.0, shift=-500.0, ratio_on=0.05)
    x = rng.uniform(0, 1, (2, 30, 1)).astype("float32")
    np.testing.assert_array_equal(_rnn(cell, x, training=False), 0.0)
    h_train = _rnn(cell, x, training=True)
    assert np.all(np.isfinite(h_train)) and np.abs(h_train).max() > 0
    assert np.abs(h_train).max() < 0.1  # only the small leak lets anything in


def test_cell_counts_steps_from_zero(rng):
    cell = _built_cell(units=2)
    # period 10, shift 0, r_on 0.2: open only at t = 1 (k = 1); t = 0 and 2 give k = 0
    _set_gate(cell, period=10.0, shift=0.0, ratio_on=0.2)
    x = rng.uniform(0.5, 1, (1, 10, 1)).astype("float32")
    h = _rnn(cell, x, training=False)[0]
    np.testing.assert_array_equal(h[0], 0.0)  # t = 0 closed (k = 0)
    assert np.all(h[1] != 0.0)  # t = 1 fully open
    np.testing.assert_array_equal(h[2:], np.broadcast_to(h[1], h[2:].shape))  # closed again


# ---------------------------------------------------- reduction to an LSTM
def _always_open(cell):
    # period 1, shift 0.5, r_on 1: phi = 0.5 at every integer t, so k = 2 - 2*0.5/1 = 1 exactly
    _set_gate(cell, period=1.0, shift=0.5, ratio_on=1.0)


@pytest.mark.parametrize("training", [False, True])
def test_always_open_gate_is_a_plain_lstm(rng, training):
    units, n_in = 6, 3
    keras.utils.set_random_seed(3)
    cell = _built_cell(units=units, n_in=n_in)
    _always_open(cell)
    np.testing.assert_array_equal(_gate(cell, np.arange(20.0), training), 1.0)
    lstm = keras.layers.LSTMCell(units)
    lstm.build((None, n_in))
    # random (non-default) LSTM weights, copied into both cells
    for w_plstm, w_lstm in zip(
        (cell.kernel, cell.recurrent_kernel, cell.bias), lstm.weights, strict=True
    ):
        value = rng.normal(0, 0.5, w_lstm.shape).astype("float32")
        w_lstm.assign(value)
        w_plstm.assign(value)
    x = rng.normal(0, 1, (4, 25, n_in)).astype("float32")
    np.testing.assert_allclose(_rnn(cell, x, training), _rnn(lstm, x, training), atol=2e-5)


def test_time_input_matches_step_counting(rng):
    keras.utils.set_random_seed(4)
    counting = _built_cell(units=4)
    timed = _built_cell(units=4, time_input=True)
    for a, b in zip(counting.weights, timed.weights, strict=True):
        b.assign(a)
    x = rng.normal(0, 1, (2, 40, 1)).astype("float32")
    t = np.broadcast_to(np.arange(40.0, dtype="float32")[None, :, None], x.shape)
    xt = np.concatenate([x, t], axis=-1)
    np.testing.assert_allclose(_rnn(timed, xt, True), _rnn(counting, x, True), atol=1e-6)
    # a different clock gives a different result
    assert not np.allclose(_rnn(timed, 3.0 * xt, True), _rnn(counting, x, True))


# ---------------------------------------------------------- parameters
def _paper_model(units=200):
    return keras.Sequential(
        [
            keras.Input((784, 1)),
            keras.layers.RNN(PhasedLSTMCell(units, leak=1e-4)),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def test_parameter_count_matches_paper():
    model = _paper_model()
    assert model.layers[0].count_params() == 162_200
    assert model.count_params() == 164_210
    lstm = keras.layers.LSTM(200)
    lstm.build((None, 784, 1))
    assert model.layers[0].count_params() - lstm.count_params() == 3 * 200


def test_initialization():
    keras.utils.set_random_seed(0)
    cell = _built_cell(units=500, period_init_min=2.0, period_init_max=50.0, ratio_on=0.07)
    period = keras.ops.convert_to_numpy(cell.period)
    shift = keras.ops.convert_to_numpy(cell.shift)
    assert period.min() >= 2.0 and period.max() <= 50.0
    # log-uniform: about half of the periods below the geometric mean 10
    assert 0.4 < np.mean(period < 10.0) < 0.6
    assert np.all(shift >= 0) and np.all(shift <= period)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cell.ratio_on), 0.07, rtol=1e-6)
    bias = keras.ops.convert_to_numpy(cell.bias)
    np.testing.assert_array_equal(bias[500:1000], 1.0)  # unit forget bias
    np.testing.assert_array_equal(np.delete(bias, np.s_[500:1000]), 0.0)
    # same global seed -> same initial weights
    keras.utils.set_random_seed(0)
    again = _built_cell(units=500, period_init_min=2.0, period_init_max=50.0, ratio_on=0.07)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again.period), period)


def test_trainable_flags():
    cell = _built_cell(units=3, trainable_ratio_on=False, trainable_shift=False)
    names = sorted(w.path.split("/")[-1] for w in cell.trainable_weights)
    assert names == ["bias", "kernel", "period", "recurrent_kernel"]
    assert len(cell.non_trainable_weights) == 2


def test_training_updates_gate_parameters_and_stays_finite(rng):
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((20, 1)),
            keras.layers.RNN(PhasedLSTMCell(8, ratio_on=0.5, period_init_max=20.0)),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    cell = model.layers[0].cell
    before = [keras.ops.convert_to_numpy(w).copy() for w in (cell.period, cell.shift, cell.ratio_on)]
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    x = rng.uniform(0, 1, (16, 20, 1)).astype("float32")
    y = (x[:, :10, 0].mean(axis=1) > 0.5).astype("int64")
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    after = [keras.ops.convert_to_numpy(w) for w in (cell.period, cell.shift, cell.ratio_on)]
    for name, b, a in zip(("period", "shift", "ratio_on"), before, after, strict=True):
        assert not np.allclose(a, b), f"{name} did not change"


# ------------------------------------------------------- serialization
def test_config_round_trip():
    cell = PhasedLSTMCell(7, leak=0.01, ratio_on=0.2, trainable_ratio_on=False, time_input=True)
    clone = PhasedLSTMCell.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    assert clone.time_input and clone.units == 7 and clone.leak == 0.01
    assert clone.state_size == [7, 7]
    assert PhasedLSTMCell(3).state_size == [3, 3, 1]


def test_save_load_round_trip(tmp_path, rng):
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((30, 1)),
            keras.layers.RNN(PhasedLSTMCell(5, ratio_on=0.3, period_init_max=30.0)),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    x = rng.uniform(0, 1, (4, 30, 1)).astype("float32")
    expected = model.predict(x, verbose=0)
    path = tmp_path / "plstm.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[0].cell, PhasedLSTMCell)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


# -------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"units": 0}, ValueError, "units"),
        ({"units": 2.5}, TypeError, "units"),
        ({"units": True}, TypeError, "units"),
        ({"units": 4, "leak": -0.1}, ValueError, "leak"),
        ({"units": 4, "leak": 2.0}, ValueError, "leak"),
        ({"units": 4, "leak": "a"}, TypeError, "leak"),
        ({"units": 4, "ratio_on": 0.0}, ValueError, "ratio_on"),
        ({"units": 4, "ratio_on": 1.5}, ValueError, "ratio_on"),
        ({"units": 4, "ratio_on": float("nan")}, ValueError, "ratio_on"),
        ({"units": 4, "period_init_min": 0.0}, ValueError, "period_init_min"),
        ({"units": 4, "period_init_min": 10.0, "period_init_max": 5.0}, ValueError, "period_init_max"),
        ({"units": 4, "time_input": 1}, TypeError, "time_input"),
        ({"units": 4, "trainable_ratio_on": "yes"}, TypeError, "trainable_ratio_on"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        PhasedLSTMCell(**kwargs)


def test_time_input_needs_a_data_feature():
    cell = PhasedLSTMCell(3, time_input=True)
    with pytest.raises(ValueError, match="time_input"):
        cell.build((None, 1))


# ------------------------------------------------- the psMNIST experiment
from lmu.experiments import psmnist_phased_lstm as experiment  # noqa: E402


def _tiny_data(rng, n_steps=12, nan=False):
    def split(n):
        y = rng.integers(0, 10, n)
        x = rng.uniform(0, 1, (n, n_steps, 1)).astype("float32")
        x[np.arange(n), y % n_steps, 0] = 2.0  # a learnable cue
        if nan:
            x[0, 0, 0] = np.nan
        return x, y.astype("int64")

    info = {"source": "synthetic", "label": "synthetic test data", "offline_subset": False}
    return {"train": split(40), "validation": split(20), "test": split(20), "info": info}


def test_experiment_model_matches_paper_parameter_count():
    model = experiment.build_model(jit_compile=False)
    assert model.count_params() == experiment.PAPER["parameters"] == 164_210
    assert model.get_layer("phased_lstm").count_params() == experiment.PAPER["recurrent_parameters"]
    assert model.input_shape == (None, 784, 1) and model.output_shape == (None, 10)
    assert model.optimizer.clipnorm is None  # the paper's Adam: no clipping by default
    assert experiment.build_model(clipnorm=1.0, jit_compile=False).optimizer.clipnorm == 1.0
    with pytest.raises(ValueError, match="clipnorm"):
        experiment.build_model(clipnorm=-1.0)


def test_experiment_run_saves_results(tmp_path, monkeypatch, rng):
    monkeypatch.setenv("LMU_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("LMU_PROGRESS", "0")
    res = experiment.run(mode="quick", data=_tiny_data(rng), jit_compile=False, units=8,
                         epochs=2, batch_size=10, n_train=None, n_validation=None, n_test=None,
                         clipnorm=5.0)
    assert any("clipnorm=5.0 (not in the paper)" in d for d in res["deviations"])
    assert res["protocol"]["clipnorm"] == 5.0
    assert (tmp_path / "quick" / "psmnist_phased_lstm.json").exists()
    assert res["nan"] is None and res["epochs_run"] == 2 and len(res["batch_loss"]) == 8
    assert res["parameters"] == 4 * (8 * (1 + 8) + 8) + 3 * 8 + (8 * 10 + 10)
    assert 0.0 <= res["test_accuracy"] <= 1.0 and res["best_epoch"] in (1, 2)
    assert len(res["history"]["val_loss"]) == 2
    assert res["data"]["n_train"] == 40 and res["timing"]["s_per_training_batch"] > 0
    rows = experiment.comparison_rows(res)
    assert [r["quantity"] for r in rows][0].startswith("test accuracy")
    assert all(r["full"].startswith("not run here") for r in rows)  # no full results in tmp_path
    assert "synthetic test data" in rows[0]["quick"]
    with pytest.raises(TypeError, match="unknown protocol"):
        experiment.run(mode="quick", data=_tiny_data(rng), epoch=3)


def test_experiment_run_reports_nan(tmp_path, monkeypatch, rng, capsys):
    monkeypatch.setenv("LMU_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("LMU_PROGRESS", "0")
    res = experiment.run(mode="quick", data=_tiny_data(rng, nan=True), jit_compile=False,
                         units=4, epochs=3, batch_size=10, n_train=None)
    assert res["nan"] is not None and res["nan"]["epoch"] == 1
    assert res["epochs_run"] == 1  # stopped at the NaN, not after 3 epochs
    assert np.isnan(res["test_accuracy"])  # no finite checkpoint: reported as NaN, not a number
    assert "Non-finite training loss" in capsys.readouterr().out
    assert "NaN in epoch 1" in experiment.comparison_rows(res)[2]["quick"]
