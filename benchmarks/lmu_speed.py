"""Speed of LMU Book's LMU layers against keras-lmu 0.9.0, measured side by side.

Run everything (about 15–30 minutes on a loaded 2-core machine)::

    make bench
    # or: .venv/bin/python benchmarks/lmu_speed.py [--cases ...] [--reps N] [--quick]

Writes ``benchmarks/results/lmu_speed.json`` (``--quick``:
``benchmarks/results/quick/lmu_speed.json``, small sizes, not committed) and
prints a table. Cases (``--cases``, comma separated):

``psmnist_recurrent``
    The paper's psMNIST network (batch 100, 784 steps, order 256, 212 units,
    hidden → memory feedback, then Dense(10)): time of one training step
    (``train_on_batch``, Adam). Ours: ``lmu.LMU`` with each
    ``implementation``: ``"chunked"`` (the default's choice), ``"fused"`` and
    ``"cell"`` (the step loop); theirs: ``keras_lmu.LMU(memory_d=1,
    order=256, theta=784, hidden_cell=SimpleRNNCell(212),
    hidden_to_memory=True, memory_to_memory=True, input_to_hidden=True)``.
``psmnist_feedforward``
    Memory of the input only, last step → Dense(212, tanh) → Dense(10):
    training step. Ours: :class:`lmu.LMUFeedforward` (last-step matrix
    product, and FFT); theirs: ``keras_lmu.LMUFeedforward`` with
    ``conv_mode="fft"`` and ``"raw"``.
``inference``
    Sequences per second of the forward pass (batch 100) of both networks.
``capacity``
    LMU-0 of the capacity task at T = 100,000: the 100 test sequences of
    250,000 steps, order 100, five delayed readouts; wall time and peak
    memory (peak resident set size of a fresh subprocess) of
    ``lmu.simulate_memory(readout=...)`` (FFT convolution, all 100 sequences in
    one call) and the test MSE per delay, against a step-by-step NumPy loop
    over time (batched over the 100 sequences), which is timed on the first
    steps only and **extrapolated** to the full length.
``mackey_glass``
    The paper's Mackey-Glass LMU network (4 × LMU(49 units, order 4, θ 4) →
    Dense(1), every layer returning sequences): one training step of 32
    sequences × 5,000 steps (MSE, Adam) — one epoch of the full protocol is one
    such step plus a forward pass. Ours: ``lmu.LMU(implementation="chunked")``
    (with and without XLA) and ``"cell"``; theirs: ``keras_lmu.LMU`` with the
    same feedback options as above.
``implementation_by_size``
    One ``lmu.LMU`` layer (then Dense(1), MSE) at four sizes, units / order
    49 / 4, 64 / 32, 128 / 128, 212 / 256: training step with
    ``implementation="chunked"`` and ``"cell"`` (no XLA). This is the
    measurement behind ``lmu.layers.AUTO_CHUNKED_MAX_SIZE``.

Every repetition runs each variant once, in turn, in the same process, so
the variants see the same machine load; the JSON keeps every time, the median
and the ratios, with the load average (the machine is shared) before and
after each case.

Variants are named ``<who>_<how>[xla|no-xla]``: ``ours_chunked``,
``ours_fused``, ``ours_cell`` are ``lmu.LMU(implementation="chunked" |
"fused" | "cell")``; ``ours_matmul``, ``ours_fft`` are ``lmu.LMUFeedforward``;
``keras_lmu*`` are keras-lmu's layers; ``xla`` means the model was compiled with
``jit_compile=True``.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CASES = ("psmnist_recurrent", "psmnist_feedforward", "inference", "capacity", "mackey_glass",
         "implementation_by_size")
BATCH, STEPS, ORDER, UNITS = 100, 784, 256, 212

def training_flops(batch=BATCH, steps=STEPS, order=ORDER, units=UNITS, chunk=8):
    """Floating-point operations of one training step of the paper's psMNIST LMU (counted, not timed).

    Only the matrix products are counted (a multiply-add is 2 FLOP); the
    elementwise work is smaller by a factor of about ``units``. Per (sequence,
    step), with ``d = order`` and ``n = units``:

    - step by step (keras-lmu, ``implementation="cell"``): forward
      ``d² + dn + n²`` (memory, memory → hidden, hidden → hidden); backward
      the same products transposed for the state gradients (``d² + dn + n²``)
      plus the weight gradients of ``W_m`` and ``W_h`` (``dn + n²``; ``Ā`` is fixed);
    - chunked (``implementation="chunked"``, chunk ``L``): the memory matrix
      only once per chunk, so ``d²/L`` instead of ``d²`` in each of the three
      passes, and ``n (n + 1)`` for ``h [W_h, e_h]``.

    Returns
    -------
    dict
        ``{"cell": GFLOP, "chunked": GFLOP, "ratio": chunked / cell}``.
    """
    d, n, L = order, units, chunk
    cell = (d * d + d * n + n * n) + (d * d + d * n + n * n) + (d * n + n * n)
    chunked = 3 * (n * (n + 1) + d * n + d * d / L)
    scale = 2 * batch * steps / 1e9
    return {"cell": cell * scale, "chunked": chunked * scale, "ratio": chunked / cell}


def _load():
    return [round(v, 2) for v in os.getloadavg()]


def _cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _summary(times, cpu=None):
    """Median and minimum of wall times (and of process CPU times, if given)."""
    times = [float(t) for t in times]
    out = {"median_s": float(np.median(times)), "min_s": min(times), "times_s": times}
    if cpu is not None:
        cpu = [float(t) for t in cpu]
        out.update(cpu_median_s=float(np.median(cpu)), cpu_times_s=cpu)
    return out


class _Clock:
    """Wall time and CPU time of this process (all threads) of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


# -- models -------------------------------------------------------------------------------
def _keras_lmu_recurrent(order, theta, units, **kwargs):
    """keras-lmu's layer configured as the paper's cell (hidden → memory feedback, SimpleRNN hidden)."""
    import keras
    import keras_lmu

    return keras_lmu.LMU(memory_d=1, order=order, theta=theta,
                         hidden_cell=keras.layers.SimpleRNNCell(units), hidden_to_memory=True,
                         memory_to_memory=True, input_to_hidden=True, **kwargs)


def _recurrent_models(which):
    import keras

    import lmu

    def head(layer):
        inp = keras.Input((STEPS, 1))
        return keras.Model(inp, keras.layers.Dense(10)(layer(inp)))

    # the paper's initialization (paper-protocols §4)
    paper_init = dict(
        input_encoders_initializer="ones",
        hidden_encoders_initializer="zeros",
        memory_encoders_initializer="zeros",
        input_kernel_initializer="zeros",
        hidden_kernel_initializer="zeros",
        memory_kernel_initializer="glorot_normal",
    )
    out = {}
    for implementation in ("chunked", "fused", "cell"):
        if f"ours_{implementation}" in which:
            out[f"ours_{implementation}"] = lambda implementation=implementation: head(
                lmu.LMU(UNITS, ORDER, float(STEPS), implementation=implementation, **paper_init)
            )
    if "keras_lmu" in which:
        import keras_lmu

        out["keras_lmu"] = lambda: head(_keras_lmu_recurrent(ORDER, STEPS, UNITS))
    return out


def _feedforward_models(which):
    import keras

    from lmu.feedforward import LMUFeedforward

    def head(layer):
        inp = keras.Input((STEPS, 1))
        h = keras.layers.Dense(UNITS, activation="tanh")(layer(inp))
        return keras.Model(inp, keras.layers.Dense(10)(h))

    out = {}
    if "ours_matmul" in which:
        out["ours_matmul"] = lambda: head(LMUFeedforward(None, ORDER, float(STEPS)))
    if "ours_fft" in which:
        out["ours_fft"] = lambda: head(LMUFeedforward(None, ORDER, float(STEPS), conv_mode="fft"))
    for mode in ("fft", "raw"):
        if f"keras_lmu_{mode}" in which:
            import keras_lmu

            out[f"keras_lmu_{mode}"] = lambda mode=mode: head(
                keras_lmu.LMUFeedforward(
                    memory_d=1, order=ORDER, theta=STEPS, hidden_cell=None, conv_mode=mode
                )
            )
    return out


def _data(batch=BATCH):
    rng = np.random.default_rng(0)
    x = rng.random((batch, STEPS, 1)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    return x, y


def _compiled(build, jit, loss=None):
    import keras

    model = build()
    model.compile(
        keras.optimizers.Adam(),
        loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    return model


def _time_training(builders, reps, warmup=2, data=None, loss=None, min_rep_s=0.2):
    """Median training-step time of each model, variants alternating within a repetition.

    ``data`` is ``(x, y)`` (default: a psMNIST-shaped batch), ``loss`` a Keras
    loss (default: sparse categorical cross-entropy on logits). A model whose
    step takes less than ``min_rep_s`` runs that many consecutive steps per
    repetition (as in training) and the time per step is their mean, so that
    millisecond steps are not timed one call at a time right after another
    model's step (``steps_per_rep`` in the results).
    """
    x, y = _data() if data is None else data
    models, compile_s, per_rep = {}, {}, {}
    for name, (build, jit) in builders.items():
        start = time.perf_counter()
        models[name] = _compiled(build, jit, loss)
        for _ in range(warmup):
            step_start = time.perf_counter()
            models[name].train_on_batch(x, y)
            step_s = time.perf_counter() - step_start
        compile_s[name] = time.perf_counter() - start
        per_rep[name] = max(1, min(200, int(min_rep_s / max(step_s, 1e-6))))
        print(f"  {name}: built and warmed up in {compile_s[name]:.1f} s"
              f"{f', {per_rep[name]} steps per repetition' if per_rep[name] > 1 else ''}", flush=True)
    times = {name: [] for name in models}
    cpu = {name: [] for name in models}
    for r in range(reps):
        for name, model in models.items():
            with _Clock() as clock:
                for _ in range(per_rep[name]):
                    model.train_on_batch(x, y)
            times[name].append(clock.wall / per_rep[name])
            cpu[name].append(clock.cpu / per_rep[name])
        print(f"  rep {r + 1}/{reps}: " + ", ".join(f"{k} {v[-1]:.4f} s" for k, v in times.items()),
              flush=True)
    out = {name: {**_summary(t, cpu[name]), "jit_compile": builders[name][1],
                  "params": int(models[name].count_params()),
                  "steps_per_rep": per_rep[name],
                  "build_and_warmup_s": round(compile_s[name], 2)} for name, t in times.items()}
    return out


def _time_inference(builders, reps, batch=BATCH):
    import tensorflow as tf

    x, _ = _data(batch)
    x = tf.constant(x)
    fns = {}
    for name, (build, jit) in builders.items():
        model = build()
        fn = tf.function(lambda x, model=model: model(x, training=False), jit_compile=jit)
        fn(x)
        fn(x)
        fns[name] = fn
    times = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            with _Clock() as clock:
                fn(x).numpy()
            times[name].append(clock.wall)
            cpu[name].append(clock.cpu)
    out = {}
    for name, t in times.items():
        s = _summary(t, cpu[name])
        s["sequences_per_s"] = batch / s["median_s"]
        s["jit_compile"] = builders[name][1]
        out[name] = s
    return out


def _ratios(res, ours, theirs, key="median_s"):
    return {
        f"{t}/{o}": res[t][key] / res[o][key] for t in theirs for o in ours if o in res and t in res
    }


def _training_case(what, res, reference=None):
    """A case's results with the ratios of every keras-lmu variant to every one of ours.

    ``best`` names our fastest variant and its time over ``reference``'s
    (default: the fastest keras-lmu variant).
    """
    theirs = [k for k in res if k.startswith("keras_lmu")]
    ours = [k for k in res if k.startswith("ours")]
    best_ours = min(ours, key=lambda k: res[k]["median_s"])
    reference = reference or min(theirs, key=lambda k: res[k]["median_s"])
    return {
        "what": what,
        "results": res,
        "ratios": _ratios(res, ours, theirs),
        "ratios_cpu_time": _ratios(res, ours, theirs, "cpu_median_s"),
        "best": {"ours": best_ours, "keras_lmu": reference,
                 "ours_over_keras_lmu": res[best_ours]["median_s"] / res[reference]["median_s"]},
    }


def case_psmnist_recurrent(reps, quick):
    models = _recurrent_models(["ours_chunked", "ours_fused", "ours_cell", "keras_lmu"])
    # Keras' default on a CPU is no XLA; every variant runs both ways except the
    # fused path (XLA only) and the step loop (Keras' default only)
    builders = {
        "ours_chunked[no-xla]": (models["ours_chunked"], False),
        "ours_chunked[xla]": (models["ours_chunked"], True),
        "ours_fused[xla]": (models["ours_fused"], True),
        "keras_lmu[no-xla]": (models["keras_lmu"], False),
        "keras_lmu[xla]": (models["keras_lmu"], True),
        "ours_cell[no-xla]": (models["ours_cell"], False),
    }
    res = _time_training(builders, reps)
    return _training_case(
        "paper psMNIST network, one training step (batch 100, 784 steps, Adam)", res)


def _mackey_glass_models(which, steps):
    """The paper's Mackey-Glass LMU network (4 × LMU(49, order 4, θ 4) → Dense(1)), ours and keras-lmu's."""
    import keras

    import lmu

    def net(make):
        inp = keras.Input((steps, 1))
        x = inp
        for _ in range(4):
            x = make()(x)
        return keras.Model(inp, keras.layers.Dense(1)(x))

    out = {}
    for implementation in ("chunked", "cell"):
        if f"ours_{implementation}" in which:
            out[f"ours_{implementation}"] = lambda implementation=implementation: net(
                lambda: lmu.LMU(49, 4, 4.0, return_sequences=True, implementation=implementation))
    if "keras_lmu" in which:
        out["keras_lmu"] = lambda: net(lambda: _keras_lmu_recurrent(4, 4, 49, return_sequences=True))
    return out


def case_mackey_glass(reps, quick):
    steps, batch = (500, 8) if quick else (5000, 32)
    models = _mackey_glass_models(["ours_chunked", "ours_cell", "keras_lmu"], steps)
    # XLA over a 5,000-step loop of the step-by-step cell was far slower on this CPU in a
    # one-off test (too slow to repeat here), so the step-by-step variants run with
    # Keras' default only
    builders = {
        "ours_chunked[no-xla]": (models["ours_chunked"], False),
        "ours_chunked[xla]": (models["ours_chunked"], True),
        "ours_cell[no-xla]": (models["ours_cell"], False),
        "keras_lmu[no-xla]": (models["keras_lmu"], False),
    }
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, 1)).astype(np.float32)
    res = _time_training(builders, reps, data=(x, np.roll(x, -15, axis=1)), loss="mse")
    return _training_case(
        f"the paper's Mackey-Glass LMU network (4 x LMU(49, order 4, theta 4) -> Dense(1)), "
        f"one training step of {batch} sequences x {steps} steps (MSE, Adam)", res)


def case_implementation_by_size(reps, quick):
    import keras

    import lmu

    sizes = [(49, 4, 1000, 32), (64, 32, 784, 100), (128, 128, 784, 100), (212, 256, 784, 100)]
    out = {}
    for units, order, steps, batch in sizes[:2] if quick else sizes:
        def net(implementation, units=units, order=order, steps=steps):
            inp = keras.Input((steps, 1))
            layer = lmu.LMU(units, order, float(steps), implementation=implementation)
            return keras.Model(inp, keras.layers.Dense(1)(layer(inp)))

        x = np.random.default_rng(0).random((batch, steps, 1)).astype(np.float32)
        builders = {f"ours_{i}[no-xla]": (lambda i=i: net(i), False) for i in ("chunked", "cell")}
        res = _time_training(builders, reps, data=(x, np.zeros((batch, 1), np.float32)), loss="mse")
        key = f"units {units}, order {order} ({batch} x {steps} steps)"
        out[key] = {"results": res, "cell_over_chunked": res["ours_cell[no-xla]"]["median_s"]
                    / res["ours_chunked[no-xla]"]["median_s"]}
        print(f"  {key}: cell / chunked = {out[key]['cell_over_chunked']:.2f}", flush=True)
    return {"what": "one lmu.LMU layer, training step, chunked vs cell, by size", "sizes": out}


def case_psmnist_feedforward(reps, quick):
    models = _feedforward_models(["ours_matmul", "ours_fft", "keras_lmu_fft", "keras_lmu_raw"])
    builders = {}
    for name, build in models.items():
        builders[f"{name}[no-xla]"] = (build, False)
        if name.startswith("ours"):
            builders[f"{name}[xla]"] = (build, True)
    res = _time_training(builders, reps)
    return _training_case(
        "feedforward psMNIST network (memory of the input, last step -> Dense(212) -> "
        "Dense(10)), one training step", res, reference="keras_lmu_fft[no-xla]")


def case_inference(reps, quick):
    rec = _recurrent_models(["ours_chunked", "keras_lmu"])
    ff = _feedforward_models(["ours_matmul", "keras_lmu_fft", "keras_lmu_raw"])
    builders = {
        "recurrent/ours_chunked[no-xla]": (rec["ours_chunked"], False),
        "recurrent/ours_chunked[xla]": (rec["ours_chunked"], True),
        "recurrent/keras_lmu[no-xla]": (rec["keras_lmu"], False),
        "feedforward/ours_matmul[no-xla]": (ff["ours_matmul"], False),
        "feedforward/keras_lmu_fft[no-xla]": (ff["keras_lmu_fft"], False),
        "feedforward/keras_lmu_raw[no-xla]": (ff["keras_lmu_raw"], False),
    }
    res = _time_inference(builders, reps)
    return {
        "what": "forward pass, batch 100, sequences per second",
        "results": res,
        "ratios": {
            "recurrent keras_lmu/ours": res["recurrent/keras_lmu[no-xla]"]["median_s"]
            / min(res["recurrent/ours_chunked[no-xla]"]["median_s"],
                  res["recurrent/ours_chunked[xla]"]["median_s"]),
            "feedforward keras_lmu_fft/ours": res["feedforward/keras_lmu_fft[no-xla]"]["median_s"]
            / res["feedforward/ours_matmul[no-xla]"]["median_s"],
        },
    }


# -- LMU-0 on the capacity task: run in a fresh subprocess to measure its peak memory ------
def _capacity_child(kind, T, loop_steps, inputs):
    """Body of the subprocess: prints one JSON line."""
    import resource

    from lmu.core import discretize, legendre_system
    from lmu.experiments import capacity

    test = np.load(inputs)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"kind": kind, "T": T, "n_sequences": int(test.shape[0]), "steps": int(test.shape[1]),
           "rss_after_inputs_MB": base_rss}
    if kind == "fft":
        from lmu.core import simulate_memory

        with _Clock() as clock:
            # all 100 sequences in one call (one impulse response), readout folded in
            y = simulate_memory(test, capacity.LMU_ORDER, T - 0.5, readout=capacity.lmu0_readout())
            out["simulate_memory_s"] = time.perf_counter() - clock.wall
            mse = sum(capacity.mse_per_delay(y[i : i + 10], test[i : i + 10], T) * len(y[i : i + 10])
                      for i in range(0, len(y), 10)) / len(y)
        out["wall_s"], out["cpu_s"] = clock.wall, clock.cpu
        out["mse_per_delay"] = [float(v) for v in mse]
    else:
        order = capacity.LMU_ORDER
        A, B = legendre_system(order, T - 0.5)
        Ad, Bd = discretize(A, B, dt=1.0, method="zoh")
        AdT, BdT = Ad.T.copy(), Bd.T.copy()
        C = capacity.lmu0_readout(order)
        m = np.zeros((test.shape[0], order))
        y = np.empty((test.shape[0], loop_steps, C.shape[1]))
        with _Clock() as clock:
            for t in range(loop_steps):
                m = m @ AdT + test[:, t : t + 1] * BdT
                y[:, t] = m @ C
        out["timed_steps"] = loop_steps
        out["timed_s"], out["timed_cpu_s"] = clock.wall, clock.cpu
        out["wall_s_extrapolated"] = clock.wall * test.shape[1] / loop_steps
        out["cpu_s_extrapolated"] = clock.cpu * test.shape[1] / loop_steps
        ref = capacity.lmu0_outputs(test[:, :loop_steps], T)
        out["max_abs_diff_vs_fft"] = float(np.abs(ref - y).max())
    out["peak_rss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out), flush=True)


def _run_child(kind, T, loop_steps, inputs):
    cmd = [sys.executable, __file__, "--capacity-child", kind, str(T), str(loop_steps), inputs]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"capacity subprocess failed:\n{proc.stdout}\n{proc.stderr}")


def case_capacity(reps, quick):
    import tempfile

    from lmu.experiments import capacity

    T = 1000 if quick else 100_000
    loop_steps = 500 if quick else 5000
    reps = min(reps, 3)  # each repetition starts two fresh processes
    with _Clock() as make:
        test = capacity.make_sequences(T, keep=slice(100, 200))
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = str(pathlib.Path(tmp) / "test_inputs.npy")
        np.save(inputs, test)
        del test
        for r in range(reps):
            runs.append({"fft": _run_child("fft", T, loop_steps, inputs),
                         "loop": _run_child("loop", T, loop_steps, inputs)})
            print(f"  rep {r + 1}/{reps}: fft {runs[-1]['fft']['wall_s']:.2f} s, loop "
                  f"(extrapolated) {runs[-1]['loop']['wall_s_extrapolated']:.1f} s", flush=True)
    fft = _summary([r["fft"]["wall_s"] for r in runs], [r["fft"]["cpu_s"] for r in runs])
    loop = _summary([r["loop"]["wall_s_extrapolated"] for r in runs],
                    [r["loop"]["cpu_s_extrapolated"] for r in runs])
    return {
        "what": f"LMU-0, capacity task, T = {T}: 100 test sequences of {int(2.5 * T)} steps, "
        "order 100, five delayed readouts and their test MSE (excludes making the inputs)",
        "T": T,
        "fft": {**fft, "peak_rss_MB": max(r["fft"]["peak_rss_MB"] for r in runs),
                "rss_after_inputs_MB": runs[0]["fft"]["rss_after_inputs_MB"],
                "mse_per_delay": runs[0]["fft"]["mse_per_delay"]},
        "loop_extrapolated": {**loop, "timed_steps": loop_steps,
                              "peak_rss_MB_for_timed_part": max(r["loop"]["peak_rss_MB"]
                                                                for r in runs),
                              "max_abs_diff_vs_fft": runs[0]["loop"]["max_abs_diff_vs_fft"],
                              "note": "step loop timed on the first steps and extrapolated"},
        "make_inputs": {"wall_s": make.wall, "cpu_s": make.cpu,
                        "note": "lmu.experiments.capacity.make_sequences, not included above"},
        "ratios": {"loop/fft": loop["median_s"] / fft["median_s"],
                   "loop/fft (CPU time)": loop["cpu_median_s"] / fft["cpu_median_s"]},
        "runs": runs,
    }


# -- driver ---------------------------------------------------------------------------------
def _versions():
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "scipy", "tensorflow-cpu", "keras", "keras-lmu", "lmu-book"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def format_table(payload):
    """A Markdown table of the medians and ratios in a results payload."""
    lines = ["| case | variant | median wall | min wall | median CPU | note |",
             "| --- | --- | --- | --- | --- | --- |"]
    for case, res in payload["cases"].items():
        if case.startswith("capacity"):
            f, loop = res["fft"], res["loop_extrapolated"]
            lines.append(f"| {case} T={res['T']} | ours: simulate_memory (FFT) | "
                         f"{f['median_s']:.2f} s | {f['min_s']:.2f} s | "
                         f"{f['cpu_median_s']:.2f} s | "
                         f"peak RSS {f['peak_rss_MB'] / 1024:.2f} GB |")
            lines.append(f"| {case} T={res['T']} | step-by-step loop (extrapolated) | "
                         f"{loop['median_s']:.1f} s | {loop['min_s']:.1f} s | "
                         f"{loop['cpu_median_s']:.1f} s | "
                         f"timed on {loop['timed_steps']} steps |")
            continue
        groups = ({f"{case}, {k}": v for k, v in res["sizes"].items()} if "sizes" in res
                  else {case: res})
        for label, group in groups.items():
            for name, r in group["results"].items():
                note = f"{r['sequences_per_s']:.0f} seq/s" if "sequences_per_s" in r else ""
                lines.append(f"| {label} | {name} | {r['median_s'] * 1e3:.1f} ms | "
                             f"{r['min_s'] * 1e3:.1f} ms | {r['cpu_median_s'] * 1e3:.1f} ms | "
                             f"{note} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5; quick 2)")
    parser.add_argument("--quick", action="store_true", help="small sizes, results/quick/")
    parser.add_argument("--out", default=None, help="JSON path")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit TensorFlow and BLAS to N threads; results are stored under "
                             "'<case>@<N>thread' (CPU time is then the work of N threads)")
    parser.add_argument("--capacity-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.capacity_child:
        kind, T, loop_steps, inputs = args.capacity_child
        _capacity_child(kind, int(T), int(loop_steps), inputs)
        return None
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    bad = [c for c in cases if c not in CASES]
    if bad:
        parser.error(f"unknown case(s) {bad}; choose from {CASES}")
    reps = args.reps or (2 if args.quick else 5)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)  # inherited by the capacity subprocesses
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    out = pathlib.Path(args.out) if args.out else (
        RESULTS / "quick" / "lmu_speed.json" if args.quick else RESULTS / "lmu_speed.json")
    payload = json.loads(out.read_text()) if out.exists() else {"cases": {}}
    payload.setdefault("cases", {})
    for case in cases:
        print(f"{case} (load {_load()})", flush=True)
        load_before = _load()
        start = time.perf_counter()
        res = globals()[f"case_{case}"](reps, args.quick)
        res["wall_s"] = time.perf_counter() - start
        res["reps"] = reps
        res["threads"] = args.threads or "default"
        res["load_average_before"] = load_before
        res["load_average_after"] = _load()
        res["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        payload["cases"][case + (f"@{args.threads}thread" if args.threads else "")] = res
        payload["machine"] = {"cpu": _cpu_model(), "cpu_count": os.cpu_count(),
                              "platform": platform.platform(),
                              "shared": "other engineers' jobs ran at the same time; see the "
                                        "load averages of each case"}
        payload["versions"] = _versions()
        payload["quick"] = bool(args.quick)
        payload["command"] = " ".join([pathlib.Path(sys.executable).name, *sys.argv])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(payload, indent=1) + "\n")
        print(json.dumps(res.get("ratios", {}), indent=1), flush=True)
    print(format_table(payload))
    print(f"written to {out}")
    return payload


if __name__ == "__main__":
    main()
