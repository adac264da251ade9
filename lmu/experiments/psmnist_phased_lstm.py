"""psMNIST with a phased LSTM: the LMU paper's baseline (``paper-protocols.md`` §5).

Protocol (full mode): a :class:`lmu.PhasedLSTMCell` with 200 units and leak
``alpha = 1e-4`` (time = step index), then ``Dense(10, softmax)``
(164,210 parameters); sparse categorical cross-entropy, Adam (defaults),
batch 100, up to 10 epochs, early stopping with patience 5 on the validation
loss, the weights of the best validation loss kept in a checkpoint and used
for the test accuracy. The paper saw the training loss become NaN after
epoch 4–5; its best checkpoint scored 89.61% test (≈965 s/epoch on a GPU).

Quick mode runs the same code on a small subset (200 training, 100
validation, 200 test digits) for one epoch.

A NaN never passes silently: a callback stops training at the first
non-finite batch loss and records where it happened (``results["nan"]``);
the test accuracy is then that of the best checkpoint saved before it.

Gradient clipping (``clipnorm``) is available as an option and is a change
from the paper's protocol; it is off by default and recorded in the results
when used.

Runs resume from ``checkpoint_dir(NAME, mode)`` after an interruption
(:class:`keras.callbacks.BackupAndRestore`; the epoch log is appended to
``log.csv`` there, the best weights are ``best.weights.h5``). On resume, the
early-stopping counter restarts from zero.

``python -m lmu.experiments.psmnist_phased_lstm --mode full`` runs it from a shell.
"""

import math
import shutil
import time

import numpy as np

from ..mode import get_mode
from .common import (
    checkpoint_dir,
    cli,
    full_and_quick,
    progress,
    provenance,
    save_results,
)
from .psmnist import _read_log, _subset  # the same data subsets and epoch logs as the LMU chapter

NAME = "psmnist_phased_lstm"

#: What the LMU paper reported for this baseline (paper-protocols.md §5).
PAPER = {
    "test_accuracy": 0.8961,
    "parameters": 164_210,
    "recurrent_parameters": 162_200,
    "s_per_epoch": 965.0,  # on one GPU
    "nan": "training loss NaN after epoch 4–5",
}

#: The paper's protocol (full mode).
PROTOCOL = {
    "units": 200,
    "leak": 1e-4,
    "ratio_on": 0.05,
    "batch_size": 100,
    "epochs": 10,
    "patience": 5,
    "n_train": None,  # None = the whole split
    "n_validation": None,
    "n_test": None,
}

#: Quick mode: the same code on a small subset, one epoch.
QUICK = {**PROTOCOL, "epochs": 1, "n_train": 200, "n_validation": 100, "n_test": 200}

SEED = 0
N_MNIST_TRAIN, N_MNIST_VALIDATION = 50_000, 10_000  # for the full-MNIST time estimate


def build_model(units=200, leak=1e-4, ratio_on=0.05, n_steps=784, clipnorm=None,
                jit_compile=True):
    """The paper's model, compiled: ``RNN(PhasedLSTMCell) -> Dense(10, softmax)``.

    Parameters
    ----------
    units : int
        Phased LSTM units (paper: 200).
    leak : float
        Leak ``alpha`` of the closed time gate during training (paper: 1e-4).
    ratio_on : float
        Initial open ratio ``r_on`` (2016 paper: 0.05).
    n_steps : int
        Sequence length in steps (psMNIST: 784).
    clipnorm : float, optional
        Clip each gradient to this norm; a change from the paper (off by default).
    jit_compile : bool
        Compile with XLA (faster on CPU; numerically equivalent up to round-off).

    Returns
    -------
    keras.Model
        Input (batch, n_steps, 1) -> class probabilities (batch, 10).
    """
    import keras

    from ..phased_lstm import PhasedLSTMCell

    if clipnorm is not None and not (isinstance(clipnorm, (int, float)) and clipnorm > 0):
        raise ValueError(f"clipnorm must be a positive number or None, got {clipnorm!r}")
    model = keras.Sequential(
        [
            keras.Input((n_steps, 1)),
            keras.layers.RNN(PhasedLSTMCell(units, leak=leak, ratio_on=ratio_on), name="phased_lstm"),
            keras.layers.Dense(10, activation="softmax", name="classifier"),
        ],
        name="psmnist_phased_lstm",
    )
    optimizer = keras.optimizers.Adam() if clipnorm is None else keras.optimizers.Adam(clipnorm=clipnorm)
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def _callbacks():
    """Callbacks (defined lazily: Keras is imported only when training)."""
    import keras

    class Monitor(keras.callbacks.Callback):
        """Batch losses, NaN detection (stops training) and per-epoch timing."""

        def __init__(self, epochs, n_batches):
            super().__init__()
            self.batch_loss, self.nan, self.timing, self.batch_s = [], None, [], []
            self.n_batches, self.epoch = n_batches, 0
            self.bar = progress(total=epochs * n_batches, desc="phased LSTM", unit="batch")

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.t0, self.t_test = epoch, time.perf_counter(), 0.0
            self.bar.n = epoch * self.n_batches  # right after a resume too
            self.bar.refresh()

        def on_train_batch_begin(self, batch, logs=None):
            self.t_batch = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.batch_s.append(time.perf_counter() - self.t_batch)
            loss = float((logs or {}).get("loss", math.nan))
            self.batch_loss.append((self.epoch, batch, loss))
            self.bar.update(1)
            self.bar.set_postfix(epoch=self.epoch + 1, loss=f"{loss:.3f}")
            if not math.isfinite(loss) and self.nan is None:
                self.nan = {"epoch": self.epoch + 1, "batch": batch + 1, "loss": loss}
                print(f"Non-finite training loss ({loss}) in epoch {self.epoch + 1}, batch "
                      f"{batch + 1}: training stopped; the best checkpoint is kept.")
                self.model.stop_training = True

        def on_test_begin(self, logs=None):
            self.t_test_start = time.perf_counter()

        def on_test_end(self, logs=None):
            self.t_test += time.perf_counter() - self.t_test_start

        def on_epoch_end(self, epoch, logs=None):
            total = time.perf_counter() - self.t0
            self.timing.append({"epoch": epoch + 1, "s": total, "s_validation": self.t_test})

        def on_train_end(self, logs=None):
            self.bar.close()

    return Monitor


def run(mode=None, seed=SEED, source="auto", data=None, clipnorm=None, resume=None,
        jit_compile=True, **overrides):
    """Train and test the phased LSTM on psMNIST; save and return the results.

    Parameters
    ----------
    mode : {"quick", "full"}, optional
        Default :func:`lmu.get_mode`. ``full`` = :data:`PROTOCOL`, ``quick`` = :data:`QUICK`.
    seed : int
        Seed of Keras/NumPy/Python (:func:`keras.utils.set_random_seed`).
    source : str
        Data source for :func:`lmu.data.psmnist` (``"auto"``: full MNIST if
        available, else the offline subset of 5,000 digits).
    data : dict, optional
        An already loaded :func:`lmu.data.psmnist` result (skips loading).
    clipnorm : float, optional
        Gradient clipping, a change from the paper (off by default).
    resume : bool, optional
        Resume an interrupted run from its checkpoint (default: True in full
        mode, False in quick mode, which always starts afresh).
    jit_compile : bool
        XLA compilation (see :func:`build_model`).
    **overrides
        Any key of :data:`PROTOCOL` (e.g. ``epochs=2, n_train=500``).

    Returns
    -------
    dict
        ``test_accuracy`` and ``test_loss`` (best checkpoint), ``history``
        (per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``),
        ``batch_loss`` (after every batch, the mean training loss of the epoch so
        far, as Keras reports it), ``nan`` (None, or where
        the loss became non-finite), ``best_epoch``, ``epochs_run``,
        ``parameters``, ``timing`` (s per epoch, and an estimate for one epoch
        of full MNIST on this machine), ``gate`` (learned periods and open
        ratios: quantiles), ``data`` (source, label, sizes), ``protocol``.
    """
    import keras

    from ..data import psmnist

    mode = get_mode(mode)
    unknown = set(overrides) - set(PROTOCOL)
    if unknown:
        raise TypeError(f"unknown protocol setting(s): {sorted(unknown)}; known: {sorted(PROTOCOL)}")
    protocol = {**(PROTOCOL if mode == "full" else QUICK), **overrides}
    resume = (mode == "full") if resume is None else bool(resume)
    start = time.perf_counter()

    data = psmnist(source=source) if data is None else data
    info = data["info"]
    x_train, y_train = _subset(data["train"], protocol["n_train"])
    x_val, y_val = _subset(data["validation"], protocol["n_validation"])
    x_test, y_test = _subset(data["test"], protocol["n_test"])
    data_record = {
        "source": info["source"],
        "label": info["label"],
        "n_train": len(y_train),
        "n_validation": len(y_val),
        "n_test": len(y_test),
        "split": info.get("split"),
    }

    ckpt = checkpoint_dir(NAME, mode)
    best_path, log_path, backup = ckpt / "best.weights.h5", ckpt / "log.csv", ckpt / "backup"
    resuming = resume and backup.exists() and any(backup.iterdir())
    if not resuming:  # a fresh start: forget any earlier (or interrupted) run
        shutil.rmtree(backup, ignore_errors=True)
        for path in (best_path, log_path):
            path.unlink(missing_ok=True)
    previous = _read_log(log_path)
    best_so_far = min((v for v in previous.get("val_loss", []) if math.isfinite(v)), default=None)

    keras.utils.set_random_seed(seed)
    model = build_model(protocol["units"], protocol["leak"], protocol["ratio_on"],
                        n_steps=x_train.shape[1], clipnorm=clipnorm, jit_compile=jit_compile)
    n_batches = math.ceil(len(y_train) / protocol["batch_size"])
    monitor = _callbacks()(protocol["epochs"], n_batches)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup)),
        keras.callbacks.CSVLogger(str(log_path), append=True),
        keras.callbacks.ModelCheckpoint(
            str(best_path), monitor="val_loss", save_best_only=True, save_weights_only=True,
            # Keras saves the first epoch unconditionally when the threshold is None, even
            # with a NaN validation loss; with +inf a NaN never becomes the "best" weights
            initial_value_threshold=math.inf if best_so_far is None else best_so_far,
        ),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=protocol["patience"]),
        monitor,
    ]
    model.fit(
        x_train, y_train,
        batch_size=protocol["batch_size"],
        epochs=protocol["epochs"],
        validation_data=(x_val, y_val),
        callbacks=callbacks,
        verbose=0,
    )
    history = _read_log(log_path)
    cell = model.get_layer("phased_lstm").cell
    final_gate = {
        "period": keras.ops.convert_to_numpy(cell.period),
        "ratio_on": keras.ops.convert_to_numpy(cell.ratio_on),
    }
    t_eval = time.perf_counter()
    if best_path.exists():
        model.load_weights(str(best_path))
        test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=protocol["batch_size"],
                                             verbose=0)
        s_per_eval_digit = (time.perf_counter() - t_eval) / len(y_test)
    else:  # no finite validation loss was ever reached
        test_loss = test_acc = s_per_eval_digit = math.nan
    val_losses = history.get("val_loss", [])
    finite = [(v, i) for i, v in enumerate(val_losses) if math.isfinite(v)]
    best_epoch = min(finite)[1] + 1 if finite else None

    epoch_s = [t["s"] for t in monitor.timing]
    # the first epoch and batch include tracing/XLA compilation: leave them out of the means
    steady = slice(1, None) if len(epoch_s) > 1 else slice(None)
    batch_s = monitor.batch_s[1:] if len(monitor.batch_s) > 1 else monitor.batch_s
    s_per_batch = float(np.median(batch_s)) if batch_s else math.nan
    results = {
        "test_accuracy": float(test_acc),
        "test_loss": float(test_loss),
        "best_epoch": best_epoch,
        "best_val_loss": min(finite)[0] if finite else None,
        "best_val_accuracy": history["val_accuracy"][best_epoch - 1] if best_epoch else None,
        "epochs_run": len(val_losses),
        "stopped_early": len(val_losses) < protocol["epochs"] and monitor.nan is None,
        "nan": monitor.nan,
        "history": history,
        "batch_loss": [loss for _, _, loss in monitor.batch_loss],
        "batch_epoch": [e + 1 for e, _, _ in monitor.batch_loss],
        "parameters": int(model.count_params()),
        "recurrent_parameters": int(model.get_layer("phased_lstm").count_params()),
        "timing": {
            "s_per_epoch": epoch_s,
            "s_per_epoch_mean": float(np.mean(epoch_s[steady])) if epoch_s else None,
            "s_per_training_batch": s_per_batch,
            "s_per_evaluated_digit": s_per_eval_digit,
            # full MNIST: 500 training batches of 100 and 10,000 validation digits per epoch
            "estimated_s_per_epoch_full_mnist": N_MNIST_TRAIN / protocol["batch_size"] * s_per_batch
            + N_MNIST_VALIDATION * s_per_eval_digit,
            "note": "CPU, 2 cores shared with other jobs; the first epoch includes compilation; "
            "the estimate uses the median time of a training batch (after the first) and the "
            "time per digit of the final test evaluation",
        },
        "gate": {
            name: {q: float(np.quantile(v, p)) for q, p in (("min", 0), ("median", 0.5), ("max", 1))}
            for name, v in final_gate.items()
        },
        "final_gate": final_gate,
        "data": data_record,
        "protocol": {**protocol, "optimizer": "Adam (defaults)", "clipnorm": clipnorm,
                     "jit_compile": jit_compile},
        "resumed": bool(resuming),
    }
    deviations = []
    if clipnorm is not None:
        deviations.append(f"gradient clipping clipnorm={clipnorm} (not in the paper)")
    if info.get("offline_subset"):
        deviations.append(f"data: {info['label']} (not full MNIST)")
    if mode == "quick":
        deviations.append("quick mode: subset and 1 epoch")
    results["deviations"] = deviations
    wall = time.perf_counter() - start
    results["path"] = str(save_results(
        NAME, results,
        provenance(mode, seeds={"keras": seed}, data=data_record, epochs=protocol["epochs"],
                   wall_time_s=wall, deviations=deviations),
    ))
    return results


def _fmt_acc(res):
    acc = float(res["test_accuracy"])  # NaN is stored as the text "nan"
    text = "NaN (no finite checkpoint)" if not math.isfinite(acc) else f"{100 * acc:.2f}"
    return f"{text} ({res['data']['label']}, {res['data']['n_test']} test digits)"


def _fmt_nan(res):
    if res["nan"]:
        return f"NaN in epoch {res['nan']['epoch']} (batch {res['nan']['batch']})"
    return f"no NaN in {res['epochs_run']} epoch(s)"


def _fmt_time(res):
    t = res["timing"]
    if t.get("s_per_epoch_mean") is None:
        return "—"
    return (f"{float(t['s_per_epoch_mean']):.0f} s/epoch on {res['data']['n_train']} digits (CPU); "
            f"≈{float(t['estimated_s_per_epoch_full_mnist']):.0f} s for a full-MNIST epoch")


def comparison_rows(quick=None):
    """Rows of the paper / full / quick table (see :func:`lmu.experiments.common.comparison_table`).

    Parameters
    ----------
    quick : dict, optional
        Results of a quick run (default: ``load_results(NAME, "quick")``).
    """
    full, quick = full_and_quick(NAME, quick)
    not_run = ("not run here: 10 epochs of 784-step sequences take hours on this 2-core CPU "
               "(estimate in the time row)")

    def row(quantity, paper, fmt):
        return {
            "quantity": quantity,
            "paper": paper,
            "full": (not_run if quantity.startswith("test") else "not run here")
            if full is None else fmt(full),
            "quick": "not run" if quick is None else fmt(quick),
        }

    return [
        row("test accuracy, best checkpoint (%)", f"{100 * PAPER['test_accuracy']:.2f}", _fmt_acc),
        row("parameters", f"{PAPER['parameters']:,}", lambda r: f"{r['parameters']:,}"),
        row("non-finite training loss", PAPER["nan"], _fmt_nan),
        row("time per epoch", f"{PAPER['s_per_epoch']:.0f} s (GPU, 50,000 digits)", _fmt_time),
    ]


if __name__ == "__main__":
    cli(run, "psMNIST with a phased LSTM (LMU paper's baseline, paper-protocols.md §5)")
