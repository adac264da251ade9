"""Memory capacity: how far back can a recurrent network recall its input?

The delay task of the paper (paper-protocols §6). The input is band-limited
white noise (10 Hz cut-off, window θ = 1 s sampled with ``T`` steps, so
``dt = 1/T``); the network must output the input delayed by 0, T/4, T/2, 3T/4
and T steps at once. Two models:

- **LMU-0**: the Legendre memory (order 100) read out by its Legendre
  decoders, ``θ = T − 0.5`` steps, trained for 0 epochs. It is a linear
  time-invariant system, so it is computed for whole sequences with
  :func:`lmu.simulate_memory` (FFT convolution), not step by step; that is
  what makes ``T = 100,000`` (250,000 steps per sequence) cheap.
- **LSTM**: Keras ``LSTM(100, return_sequences=True) → Dense(5)``, trained with
  MSE and Adam (batch 50, 500 epochs in full mode).

Run from a shell with ``python -m lmu.experiments.capacity --mode full``.
LMU-0 always follows the full protocol (it takes about half a minute);
``mode`` only changes the LSTM part.
"""

import json
import time

import numpy as np

from ..core import legendre_decoders, simulate_memory
from ..mode import get_mode
from ..signals import band_limited_noise
from .common import (
    _jsonable,
    checkpoint_dir,
    cli,
    full_and_quick,
    load_results,
    load_training_state,
    progress,
    provenance,
    save_results,
    save_training_state,
)

__all__ = [
    "NAME",
    "PAPER",
    "LMU_T",
    "LSTM_T",
    "settings",
    "delay_steps",
    "make_sequences",
    "delayed_targets",
    "mse_per_delay",
    "lmu0_readout",
    "lmu0_outputs",
    "lmu0_test_mse",
    "build_lmu0_keras",
    "build_lstm",
    "train_lstm",
    "run",
    "comparison_rows",
]

NAME = "capacity"

#: Window lengths (steps per θ = 1 s) of the paper's two models.
LMU_T = (100, 1_000, 10_000, 100_000)
LSTM_T = (25, 100, 400, 1_600)

#: Numbers printed by the paper's notebooks (§6): final validation MSE of the
#: LSTM (over all steps and the 5 outputs) and its seconds per epoch on a GPU.
PAPER = {
    "lstm_final_val_mse": {25: 0.019, 100: 0.017, 400: 0.070, 1600: 0.085},
    "lstm_s_per_epoch_gpu": {25: 0.35, 100: 1.23, 400: 3.74, 1600: 10.74},
}

N_DELAYS = 5
CUTOFF_HZ = 10.0
LENGTH_FACTOR = 2.5  # sequences are 2.5 T steps long
N_SEQUENCES = 200  # first half train (+validation), second half test
LMU_ORDER = 100
LSTM_UNITS = 100


def settings(mode=None):
    """Sizes of the experiment in ``mode``.

    Returns
    -------
    dict
        ``lmu_T`` (window lengths of LMU-0, the full list in both modes),
        ``lstm_T``, ``epochs``, ``batch_size``, ``validation_split``.
    """
    mode = get_mode(mode)
    if mode == "full":
        return {"lmu_T": LMU_T, "lstm_T": LSTM_T, "epochs": 500, "batch_size": 50, "validation_split": 0.2}
    return {"lmu_T": LMU_T, "lstm_T": (25, 100), "epochs": 25, "batch_size": 50, "validation_split": 0.2}


def _check_T(T):
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)):
        raise TypeError(f"T must be an integer number of steps, got {T!r}")
    if T < 4:
        raise ValueError(f"T must be >= 4 steps, got {T}")
    return int(T)


def delay_steps(T):
    """The five delays, ``linspace(0, T, 5)`` steps rounded down to integers.

    Parameters
    ----------
    T : int
        Steps per window θ.

    Returns
    -------
    ndarray of int, shape (5,)
        For ``T = 25``: ``[0, 6, 12, 18, 25]``; exact multiples of ``T/4`` when
        ``T`` is divisible by 4.
    """
    T = _check_T(T)
    return np.floor(np.linspace(0, T, N_DELAYS) + 1e-9).astype(int)


def make_sequences(T, n_sequences=N_SEQUENCES, seed=0, keep=None, cutoff=CUTOFF_HZ):
    """The input sequences of the delay task.

    Band-limited white noise with a flat spectrum up to ``cutoff`` Hz, the
    window θ = 1 s sampled by ``T`` steps (``dt = 1/T`` s), ``2.5 T`` steps long,
    rotated (it is periodic) to start at its sample nearest 0, then divided by
    its maximum absolute value. All sequences are drawn in turn from one generator
    ``numpy.random.default_rng(seed)``.

    Parameters
    ----------
    T : int
        Steps per window.
    n_sequences : int, default 200
        How many sequences to draw.
    seed : int, default 0
    keep : slice, optional
        Which of the drawn sequences to return (all by default). The others
        are still drawn, so ``keep=slice(100, 200)`` gives exactly the test
        half of the full set without holding the training half in memory.
    cutoff : float, default 10.0
        Highest frequency, in Hz.

    Returns
    -------
    ndarray, shape (n_kept, round(2.5 T))
        Values in [−1, 1], each sequence reaching ±1 somewhere.
    """
    T = _check_T(T)
    steps = int(round(LENGTH_FACTOR * T))
    rng = np.random.default_rng(seed)
    index = np.arange(n_sequences)[keep if keep is not None else slice(None)]
    wanted = set(index.tolist())
    out = np.empty((len(index), steps))
    row = 0
    for i in range(n_sequences):
        u = band_limited_noise(steps, dt=1.0 / T, cutoff=cutoff, rms=1.0, seed=rng)
        if i in wanted:
            # the signal is periodic: rotate it to begin at its sample nearest 0
            # (at T = 25 a 10 Hz signal has only 2.5 samples per cycle, so the
            # first sample after a zero crossing can be far from 0)
            u = np.roll(u, -int(np.argmin(np.abs(u))))
            out[row] = u / np.max(np.abs(u))
            row += 1
    return out


def delayed_targets(u, T):
    """The five targets: the input delayed by :func:`delay_steps` steps, zero before.

    Parameters
    ----------
    u : ndarray, shape (batch, steps)
    T : int

    Returns
    -------
    ndarray, shape (batch, steps, 5)
    """
    u = np.asarray(u, dtype=float)
    if u.ndim != 2:
        raise ValueError(f"u must have shape (batch, steps), got {u.shape}")
    y = np.zeros(u.shape + (N_DELAYS,))
    for k, s in enumerate(delay_steps(T)):
        y[:, s:, k] = u[:, : u.shape[1] - s]
    return y


def mse_per_delay(outputs, u, T):
    """Mean squared error of each output over the steps ``t >= T``.

    Parameters
    ----------
    outputs : ndarray, shape (batch, steps, 5)
        The model's outputs for inputs ``u``.
    u : ndarray, shape (batch, steps)
    T : int

    Returns
    -------
    ndarray, shape (5,)
        MSE per delay, averaged over sequences and steps ``T … steps−1``.
    """
    outputs = np.asarray(outputs, dtype=float)
    target = delayed_targets(u, T)
    if outputs.shape != target.shape:
        raise ValueError(f"outputs must have shape {target.shape}, got {outputs.shape}")
    err = (outputs[:, T:] - target[:, T:]) ** 2
    return err.mean(axis=(0, 1))


def lmu0_readout(order=LMU_ORDER):
    """LMU-0's output kernel ``W_m``, shape (order, 5): the Legendre initializer.

    Row ``i`` is ``P_i`` at ``linspace(−1, 1, 5)``, i.e. the shifted Legendre
    polynomial ``P̃_i`` at the delays 0, θ/4, θ/2, 3θ/4, θ.
    """
    return legendre_decoders(order, np.linspace(0.0, 1.0, N_DELAYS)).T


def lmu0_outputs(u, T, order=LMU_ORDER):
    """Outputs of the untrained LMU-0 for inputs ``u``.

    With ``e_x = 1``, ``e_h = e_m = 0``, ``W_x = W_h = 0`` and a linear hidden
    activation, the cell's output is ``h_t = W_mᵀ m_t`` where ``m`` is the
    Legendre memory (ZOH, ``θ = T − 0.5`` steps, ``dt = 1`` step) driven by
    ``u``.

    Parameters
    ----------
    u : ndarray, shape (batch, steps)
    T : int
    order : int, default 100

    Returns
    -------
    ndarray, shape (batch, steps, 5)
    """
    T = _check_T(T)
    return simulate_memory(u, order, T - 0.5, dt=1.0, method="zoh", readout=lmu0_readout(order))


def lmu0_test_mse(T, seed=0, order=LMU_ORDER, group=20, test=None):
    """Test MSE per delay of LMU-0 on the 100 test sequences of window ``T``.

    Sequences are processed ``group`` at a time so that ``T = 100,000``
    (250,000 steps per sequence) needs well under 1 GB.

    Parameters
    ----------
    T : int
    seed : int, default 0
    order : int, default 100
    group : int, default 20
    test : ndarray, shape (n, steps), optional
        Test inputs (default: the last 100 of :func:`make_sequences`).

    Returns
    -------
    ndarray, shape (5,)
    """
    if test is None:
        test = make_sequences(T, seed=seed, keep=slice(N_SEQUENCES // 2, N_SEQUENCES))
    total = np.zeros(N_DELAYS)
    for start in range(0, len(test), group):
        chunk = test[start : start + group]
        total += mse_per_delay(lmu0_outputs(chunk, T, order), chunk, T) * len(chunk)
    return total / len(test)


def build_lmu0_keras(T, order=LMU_ORDER):
    """LMU-0 as a Keras model: one :class:`lmu.LMU` layer with fixed weights.

    ``e_x = 1``, ``e_h = e_m = 0``, ``W_x = W_h = 0``, ``W_m`` =
    :class:`lmu.Legendre`, linear hidden activation, nothing trainable,
    ``θ = T − 0.5`` steps. It computes step by step what :func:`lmu0_outputs`
    computes by FFT; the chapter checks that both agree.

    Returns
    -------
    keras.Model
        Input (batch, steps, 1), output (batch, steps, 5).
    """
    import keras

    from ..layers import LMU, Legendre

    T = _check_T(T)
    flags = {
        f"trainable_{w}": False
        for w in ("input_encoders", "hidden_encoders", "memory_encoders", "input_kernel", "hidden_kernel", "memory_kernel")
    }
    layer = LMU(
        N_DELAYS,
        order,
        T - 0.5,
        hidden_activation="linear",
        input_encoders_initializer="ones",
        hidden_encoders_initializer="zeros",
        memory_encoders_initializer="zeros",
        input_kernel_initializer="zeros",
        hidden_kernel_initializer="zeros",
        memory_kernel_initializer=Legendre(),
        return_sequences=True,
        **flags,
    )
    return keras.Sequential([keras.Input((None, 1)), layer], name="lmu0")


def build_lstm(units=LSTM_UNITS, n_outputs=N_DELAYS, seed=0):
    """The paper's LSTM: ``LSTM(units, return_sequences=True) → Dense(n_outputs)``.

    Input shape (batch, steps, 1), output (batch, steps, n_outputs); compiled
    with MSE and Adam (default settings). For ``units = 100`` it has 41,305
    parameters.
    """
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((None, 1)),
            keras.layers.LSTM(units, return_sequences=True),
            keras.layers.Dense(n_outputs),
        ],
        name="capacity_lstm",
    )
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    return model


def _epoch_callback(ckpt_model, ckpt_state, history, every, bar):
    import keras

    class _Progress(keras.callbacks.Callback):  # history, progress bar, checkpoints
        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            history["loss"].append(float(logs["loss"]))
            history["val_loss"].append(float(logs.get("val_loss", np.nan)))
            history["epoch_s"].append(time.perf_counter() - self._start)
            bar.update(1)
            bar.set_postfix(loss=f"{logs['loss']:.4f}", val=f"{logs.get('val_loss', np.nan):.4f}")
            done = epoch + 1
            if ckpt_model is not None and (done % every == 0):
                save_training_state(self.model, ckpt_model)
                ckpt_state.write_text(json.dumps({"epochs_done": done, "history": history}))

    return _Progress()


def train_lstm(T, epochs, seed=0, batch_size=50, validation_split=0.2, checkpoint=None, every=10):
    """Train the LSTM on window ``T`` and measure its test MSE per delay.

    Parameters
    ----------
    T : int
        Steps per window.
    epochs : int
    seed : int, default 0
        Seeds the data (:func:`make_sequences`) and Keras.
    batch_size : int, default 50
    validation_split : float, default 0.2
        Fraction of the 100 training sequences (the last ones) held out.
    checkpoint : pathlib.Path, optional
        Folder for resumable checkpoints (weights and optimizer state every
        ``every`` epochs); a run with the same folder resumes from there.
    every : int, default 10

    Returns
    -------
    dict
        ``test_mse`` (5,), ``final_val_mse``, ``history`` (per-epoch
        ``loss``, ``val_loss``, ``epoch_s``), ``s_per_epoch`` (median),
        ``n_params``, ``epochs``, ``delays_steps``, ``resumed_from``.
    """
    T = _check_T(T)
    u = make_sequences(T, seed=seed)
    train, test = u[: N_SEQUENCES // 2], u[N_SEQUENCES // 2 :]
    x = train[..., None].astype("float32")
    y = delayed_targets(train, T).astype("float32")
    history = {"loss": [], "val_loss": [], "epoch_s": []}
    start_epoch = 0
    ckpt_model = ckpt_state = None
    if checkpoint is not None:
        ckpt_model = checkpoint / f"lstm_T{T}_e{epochs}_s{seed}.state.npz"
        ckpt_state = checkpoint / f"lstm_T{T}_e{epochs}_s{seed}.json"
    model = build_lstm(seed=seed)
    if ckpt_model is not None and ckpt_model.exists() and ckpt_state.exists():
        state = json.loads(ckpt_state.read_text())
        start_epoch = int(state["epochs_done"])
        history = state["history"]
        load_training_state(model, ckpt_model)
    with progress(total=epochs, initial=start_epoch, desc=f"LSTM T={T}", unit="epoch") as bar:
        if start_epoch < epochs:
            model.fit(
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                initial_epoch=start_epoch,
                validation_split=validation_split,
                verbose=0,
                callbacks=[_epoch_callback(ckpt_model, ckpt_state, history, every, bar)],
            )
    pred = model.predict(test[..., None].astype("float32"), batch_size=batch_size, verbose=0)
    epoch_s = np.asarray(history["epoch_s"][1:] or history["epoch_s"])  # the first includes tracing
    return {
        "delays_steps": delay_steps(T),
        "test_mse": mse_per_delay(pred, test, T),
        "final_val_mse": history["val_loss"][-1] if history["val_loss"] else None,
        "history": history,
        "s_per_epoch": float(np.median(epoch_s)) if epoch_s.size else None,
        "n_params": int(model.count_params()),
        "epochs": int(epochs),
        "resumed_from": int(start_epoch),
    }


def _lmu0_part(Ts, seed):
    out = {}
    for T in progress(Ts, desc="LMU-0", unit="T"):
        start = time.perf_counter()
        mse = lmu0_test_mse(T, seed=seed)
        out[str(T)] = {
            "delays_steps": delay_steps(T),
            "test_mse": mse,
            "wall_time_s": time.perf_counter() - start,
        }
    return out


def run(mode=None, seed=0, lstm_T=None, epochs=None, lmu_T=None, checkpoints=None, probe_epochs=0):
    """Run the memory-capacity experiment and save its results.

    Parameters
    ----------
    mode : {"quick", "full"}, optional
        ``full``: LSTM for T = 25, 100, 400, 1,600 with 500 epochs each;
        ``quick``: T = 25, 100 with 25 epochs. LMU-0 is computed for
        T = 100, …, 100,000 with the full protocol in both modes.
    seed : int, default 0
        Seed of the data generator and of Keras.
    lstm_T, lmu_T : sequence of int, optional
        Override the windows of either model (e.g. to run only the LSTMs that
        fit in the available time; the others are recorded as not run).
    epochs : int, optional
        Override the number of LSTM epochs.
    checkpoints : bool, optional
        Keep resumable checkpoints (default: in full mode only). A full run
        interrupted and started again continues where it stopped; the results
        file is rewritten after every model so finished parts are never lost.
    probe_epochs : int, default 0
        For each of the mode's LSTM windows left out by ``lstm_T``, train this
        many epochs only to measure the time per epoch, recorded as the reason
        it was not run.

    Returns
    -------
    dict
        ``{"lmu0": {T: {...}}, "lstm": {T: {...}}, "lstm_not_run": {T: reason},
        "settings": {...}}``.
    """
    mode = get_mode(mode)
    cfg = settings(mode)
    if lstm_T is not None:
        cfg["lstm_T"] = tuple(int(t) for t in lstm_T)
    if lmu_T is not None:
        cfg["lmu_T"] = tuple(int(t) for t in lmu_T)
    if epochs is not None:
        cfg["epochs"] = int(epochs)
    use_ckpt = (mode == "full") if checkpoints is None else bool(checkpoints)
    ckpt = checkpoint_dir(NAME, mode) if use_ckpt else None
    start = time.perf_counter()
    results = {"settings": cfg, "lmu0": {}, "lstm": {}, "lstm_not_run": {}, "lstm_probe": {}}
    if use_ckpt:  # keep the measured reasons of an earlier run until those windows are run
        earlier = load_results(NAME, mode)
        if earlier is not None:
            for key in ("lstm_not_run", "lstm_probe"):
                results[key].update(earlier["results"].get(key, {}))
    protocol_lstm = settings(mode)["lstm_T"]

    def save(reasons=None):
        reasons = {**results["lstm_not_run"], **(reasons or {})}
        results["lstm_not_run"] = {
            str(T): reasons.get(str(T), "not run here (time budget)")
            for T in protocol_lstm
            if str(T) not in results["lstm"]
        }
        prov = provenance(
            mode,
            seeds={"data": seed, "keras": seed},
            data={
                "source": "band-limited white noise, lmu.band_limited_noise",
                "cutoff_hz": CUTOFF_HZ,
                "n_sequences": N_SEQUENCES,
                "split": "first 100 train (last 20% of them validation), last 100 test",
                "length": "2.5 T steps",
            },
            epochs={"lstm": cfg["epochs"], "lmu0": 0},
            wall_time_s=time.perf_counter() - start,
            notes="LMU-0 follows the full protocol in both modes; only the LSTM part depends on the mode.",
        )
        save_results(NAME, results, prov)

    results["lmu0"] = _lmu0_part(cfg["lmu_T"], seed)
    save()
    # finished LSTM runs of an earlier, interrupted run (same epochs and seed) are reused
    for T in cfg["lstm_T"]:
        done = ckpt / f"lstm_T{T}_e{cfg['epochs']}_s{seed}.done.json" if ckpt else None
        if done is not None and done.exists():
            results["lstm"][str(T)] = json.loads(done.read_text())
        else:
            res = train_lstm(
                T,
                cfg["epochs"],
                seed=seed,
                batch_size=cfg["batch_size"],
                validation_split=cfg["validation_split"],
                checkpoint=ckpt,
            )
            results["lstm"][str(T)] = res
            results["lstm_probe"].pop(str(T), None)
            if done is not None:
                done.write_text(json.dumps(_jsonable(res)))
        save()
    # the protocol's windows left out: measure their speed so the report can say why
    for T in protocol_lstm:
        if str(T) not in results["lstm"] and probe_epochs:
            probe = train_lstm(T, probe_epochs, seed=seed, batch_size=cfg["batch_size"])
            s_epoch = probe["s_per_epoch"]
            results["lstm_probe"][str(T)] = {"epochs": probe_epochs, "s_per_epoch": s_epoch}
            save(
                {
                    str(T): f"not run here: {s_epoch:.1f} s/epoch measured, "
                    f"{cfg['epochs']} epochs ≈ {cfg['epochs'] * s_epoch / 3600:.1f} h on 2 shared CPU cores"
                }
            )
    return load_results(NAME, mode)["results"]


def _mean(values):
    return float(np.mean(values))


def comparison_rows(quick=None):
    """Rows ``{"quantity", "paper", "full", "quick"}`` for :func:`comparison_table`.

    Parameters
    ----------
    quick : dict, optional
        Quick-mode results (the ``"results"`` of a run); default: the quick
        results file of this build, if any.
    """
    full, quick = full_and_quick(NAME, quick)

    def pick(res, model, T, key, reducer=None):
        if res is None:
            return "not run here: run `python -m lmu.experiments.capacity --mode full`"
        part = res.get(model, {}).get(str(T))
        if part is None:
            reason = res.get(f"{model}_not_run", {}).get(str(T))
            return reason or "not run in this mode"
        value = part[key]
        return reducer(value) if reducer else value

    rows = []
    for T in LMU_T:
        rows.append(
            {
                "quantity": f"LMU-0, T = {T:,}: test MSE, mean over the 5 delays",
                "paper": "figure only",
                "full": pick(full, "lmu0", T, "test_mse", _mean),
                "quick": pick(quick, "lmu0", T, "test_mse", _mean),
            }
        )
    for T in LSTM_T:
        rows.append(
            {
                "quantity": f"LSTM, T = {T:,}: final validation MSE",
                "paper": PAPER["lstm_final_val_mse"][T],
                "full": pick(full, "lstm", T, "final_val_mse"),
                "quick": pick(quick, "lstm", T, "final_val_mse"),
            }
        )
    for T in LSTM_T:
        rows.append(
            {
                "quantity": f"LSTM, T = {T:,}: seconds per epoch (paper: GPU; ours: 2 shared CPU cores)",
                "paper": PAPER["lstm_s_per_epoch_gpu"][T],
                "full": pick(full, "lstm", T, "s_per_epoch"),
                "quick": pick(quick, "lstm", T, "s_per_epoch"),
            }
        )
    return rows


if __name__ == "__main__":
    cli(
        run,
        "Memory capacity (delay task): LMU-0 and LSTM, paper-protocols §6.",
        options={
            "--lstm-T": {"type": int, "nargs": "+", "help": "LSTM windows to run (default: the mode's)"},
            "--epochs": {"type": int, "help": "LSTM epochs (default: the mode's)"},
            "--probe-epochs": {"type": int, "help": "time this many epochs of each left-out LSTM"},
        },
    )
