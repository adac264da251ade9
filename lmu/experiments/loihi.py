"""The spiking LMU memory of the paper, in nengo and on an emulated Loihi chip.

Protocol (paper-protocols §9): order 6, θ = 1 s, synapse τ = 0.1 s, dt = 1 ms;
six ensembles of 100 spiking rectified-linear neurons (max rates U(100, 120) Hz,
intercepts U(−1, 0.5)); input band-limited white noise (1 Hz cut-off, rms 0.3,
seed 0); the memory realised with the discrete principle-3 mapping
(:func:`lmu.spiking.legendre_lowpass_mapping`); readout: the represented state
filtered with 0.05 s and decoded with the shifted Legendre polynomials.

The same input runs through

- ``"ideal"``: the exact discrete memory (:func:`lmu.simulate_memory`);
- ``"nengo"``: nengo's reference simulator with spiking neurons;
- ``"loihi"``: nengo-loihi (its emulator, ``target="sim"``, or a real board
  when nengo-loihi finds NxSDK) with the two Loihi-specific choices:
  neuron-to-neuron recurrent weights and the input synapse moved into the
  spike generator;
- ``"loihi_decoded"`` and ``"loihi_neurons_only"``: the emulator without
  both, and with only the first of them, to show what each one does.

Every decoded delay is compared with the input delayed by that amount and
passed through the same 0.05 s readout filter (no fitted alignment).

``python -m lmu.experiments.loihi --mode full`` runs the paper's 50 s.
"""

import collections
import re
import time
import warnings

import numpy as np

from .. import core, signals, spiking
from ..mode import get_mode
from .common import checkpoint_dir, cli, full_and_quick, progress, provenance, save_results

__all__ = [
    "NAME",
    "PROTOCOL",
    "DELAYS",
    "VARIANTS",
    "input_signal",
    "build_network",
    "run_ideal",
    "run_nengo",
    "import_nengo_loihi",
    "run_loihi",
    "decode",
    "delay_nrmse",
    "window_nrmse",
    "chip_resources",
    "summarize_warnings",
    "run",
    "comparison_rows",
]

NAME = "loihi"

PROTOCOL = {
    "order": 6,
    "theta": 1.0,  # s
    "tau": 0.1,  # s, synapse of the memory
    "dt": 0.001,  # s
    "n_neurons": 100,  # per ensemble (one ensemble per memory dimension)
    "max_rates": (100.0, 120.0),  # Hz
    "intercepts": (-1.0, 0.5),
    "cutoff": 1.0,  # Hz, input bandwidth
    "rms": 0.3,
    "readout_tau": 0.05,  # s
    "duration_full": 50.0,  # s
    "duration_quick": 3.0,  # s
}
DELAYS = (0.0, 0.25, 0.5, 0.75, 1.0)  # θ'/θ reported in the table
N_WINDOW = 100  # delays decoded for the window plot

# name -> (neuron-to-neuron recurrent weights, input synapse in the spike generator)
VARIANTS = {
    "loihi": (True, True),
    "loihi_decoded": (False, False),
    "loihi_neurons_only": (True, False),
}


def input_signal(duration, dt=PROTOCOL["dt"], seed=0):
    """The protocol's input: the first ``duration`` seconds of the 50 s signal.

    The 50 s band-limited white noise (1 Hz cut-off, rms 0.3) is drawn once
    from ``seed``; shorter runs use its beginning, so a quick run sees the same
    input as the start of the full run.

    Parameters
    ----------
    duration : float
        Seconds (<= 50 s).
    dt : float
        Time step, in seconds.
    seed : int
        Seed of the noise.

    Returns
    -------
    ndarray, shape (round(duration / dt),)
    """
    total = int(round(PROTOCOL["duration_full"] / dt))
    steps = int(round(duration / dt))
    if not 1 <= steps <= total:
        raise ValueError(f"duration must be in (0, {PROTOCOL['duration_full']}] s, got {duration}")
    u = signals.band_limited_noise(
        total, dt=dt, cutoff=PROTOCOL["cutoff"], rms=PROTOCOL["rms"], seed=seed
    )
    return u[:steps]


def build_network(u, neuron_to_neuron=True, input_in_generator=True, seed=0, p=PROTOCOL):
    """The spiking memory as a nengo network.

    Parameters
    ----------
    u : ndarray, shape (T,)
        Input, one value per step of ``p["dt"]``.
    neuron_to_neuron : bool
        Recurrent connections as full neuron-to-neuron weight matrices
        (a weight solver), instead of decoded connections (which nengo-loihi
        routes through extra "decode neurons").
    input_in_generator : bool
        Give the input connections no synapse: nengo-loihi then applies its
        on-chip ``decode_tau`` (set to τ by :func:`run_loihi`) to the spikes of
        the input generator, which is then the memory's input synapse. Only
        meaningful on nengo-loihi; the reference simulator needs ``False``.
    seed : int
        Network seed.
    p : dict
        Protocol parameters (:data:`PROTOCOL`).

    Returns
    -------
    net : nengo.Network
    probes : list of nengo.Probe
        One per memory dimension, filtered with ``p["readout_tau"]``.
    """
    import nengo

    A_H, B_H = spiking.legendre_lowpass_mapping(p["order"], p["theta"], p["tau"], p["dt"])
    with nengo.Network(seed=seed, label="spiking LMU memory") as net:
        stim = nengo.Node(nengo.processes.PresentInput(np.asarray(u)[:, None], p["dt"]))
        neuron = nengo.SpikingRectifiedLinear(initial_state={"voltage": nengo.dists.Choice([0])})
        ens = [
            nengo.Ensemble(
                p["n_neurons"],
                1,
                neuron_type=neuron,
                max_rates=nengo.dists.Uniform(*p["max_rates"]),
                intercepts=nengo.dists.Uniform(*p["intercepts"]),
                label=f"m{i}",
            )
            for i in range(p["order"])
        ]
        solver = nengo.solvers.LstsqL2(weights=neuron_to_neuron)
        for i, post in enumerate(ens):
            nengo.Connection(
                stim, post, transform=B_H[i, 0], synapse=None if input_in_generator else p["tau"]
            )
            for j, pre in enumerate(ens):
                nengo.Connection(pre, post, transform=A_H[i, j], synapse=p["tau"], solver=solver)
        probes = [nengo.Probe(e, synapse=p["readout_tau"]) for e in ens]
    return net, probes


def run_ideal(u, p=PROTOCOL):
    """The exact discrete memory, filtered like the spiking readout.

    Returns
    -------
    ndarray, shape (T, order)
    """
    m = core.simulate_memory(u, p["order"], p["theta"], dt=p["dt"])
    return spiking.lowpass_filter(m, p["readout_tau"], p["dt"])


def _run_chunks(sim, steps, desc):
    chunk = 250
    with progress(total=steps, desc=desc, unit="step") as bar:
        done = 0
        while done < steps:
            n = min(chunk, steps - done)
            sim.run_steps(n)
            done += n
            bar.update(n)


def _states(sim, probes):
    return np.column_stack([np.asarray(sim.data[pr])[:, 0] for pr in probes])


def run_nengo(u, seed=0, p=PROTOCOL):
    """The network in nengo's reference simulator (spiking neurons).

    Returns
    -------
    states : ndarray, shape (T, order)
        The represented memory, filtered with the readout synapse.
    info : dict
        ``build_s`` and ``run_s`` wall times.
    """
    import nengo

    net, probes = build_network(u, neuron_to_neuron=False, input_in_generator=False, seed=seed, p=p)
    t0 = time.perf_counter()
    with nengo.Simulator(net, dt=p["dt"], progress_bar=False) as sim:
        t1 = time.perf_counter()
        _run_chunks(sim, len(u), "nengo reference")
        t2 = time.perf_counter()
        states = _states(sim, probes)
    return states, {"build_s": t1 - t0, "run_s": t2 - t1}


_LOST_BITS = re.compile(r"Lost (\d+) extra bits in weight rounding")


def summarize_warnings(caught, top=8):
    """Condense the warnings of a build into counts.

    Parameters
    ----------
    caught : list of warnings.WarningMessage
    top : int
        How many distinct messages to keep.

    Returns
    -------
    dict
        ``total``; ``weight_rounding`` (count and the histogram of lost bits);
        ``messages``: the ``top`` most frequent distinct messages with counts.
    """
    messages = collections.Counter(f"{w.category.__name__}: {w.message}" for w in caught)
    lost = collections.Counter()
    for w in caught:
        m = _LOST_BITS.search(str(w.message))
        if m:
            lost[int(m.group(1))] += 1
    return {
        "total": len(caught),
        "weight_rounding": {
            "count": sum(lost.values()),
            "lost_bits": {str(k): lost[k] for k in sorted(lost)},
        },
        "messages": [[msg, n] for msg, n in messages.most_common(top)],
    }


def chip_resources(model):
    """Resources of the chip part of a built nengo-loihi model.

    Parameters
    ----------
    model : nengo_loihi.builder.Model
        ``sim.model`` of a ``nengo_loihi.Simulator``.

    Returns
    -------
    dict
        ``blocks`` (nengo-loihi places each block on its own core, so this is
        the number of cores), ``compartments``, ``synapses`` (stored weights),
        ``synapse_bits``, ``in_axons``, ``out_axons``, and nengo-loihi's own
        ``utilization`` summary line (mean per-core use).
    """
    blocks = list(model.blocks)
    util = [b.utilization() for b in blocks]
    return {
        "blocks": len(blocks),
        "compartments": int(sum(b.compartment.n_compartments for b in blocks)),
        "synapses": int(sum(s.size() for b in blocks for s in b.synapses)),
        "synapse_bits": int(sum(u["synapses"][0] for u in util)),
        "in_axons": int(sum(u["in-axons"][0] for u in util)),
        "out_axons": int(sum(u["out-axons"][0] for u in util)),
        "utilization": model.utilization_summary()[-1],
    }


def import_nengo_loihi():
    """Import nengo_loihi quietly and without TensorFlow.

    nengo-loihi imports TensorFlow only for its NengoDL integration (which this
    book does not use); blocking that import saves seconds and a screen of
    TensorFlow log lines. Its warning that nengo 4.1 "has not been tested" is
    silenced: see the chapter for why we pin nengo 4.1.0. If TensorFlow is
    already loaded, nengo-loihi gets it as usual.
    """
    import sys

    if "nengo_loihi" in sys.modules:
        return sys.modules["nengo_loihi"]
    block_tf = "tensorflow" not in sys.modules
    if block_tf:
        sys.modules["tensorflow"] = None  # makes `import tensorflow` raise ImportError
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*has not been tested with your `nengo`")
            import nengo_loihi
    finally:
        if block_tf:
            sys.modules.pop("tensorflow", None)
    return nengo_loihi


def run_loihi(u, neuron_to_neuron=True, input_in_generator=True, seed=0, p=PROTOCOL, target=None):
    """The network on nengo-loihi: a Loihi board if NxSDK is found, else the emulator.

    Parameters
    ----------
    u : ndarray, shape (T,)
    neuron_to_neuron, input_in_generator : bool
        The two Loihi-specific choices, see :func:`build_network`. With
        ``input_in_generator`` the builder's ``decode_tau`` (the filter applied
        on chip to spikes arriving from the host) is set to τ.
    seed : int
    p : dict
    target : {None, "sim", "loihi"}
        ``None``: nengo-loihi's own choice (``"loihi"`` with NxSDK, else ``"sim"``).

    Returns
    -------
    states : ndarray, shape (T, order)
    info : dict
        ``target``, ``build_s``, ``run_s``, ``resources`` (:func:`chip_resources`)
        and ``warnings`` (:func:`summarize_warnings` of the build).
    """
    nengo_loihi = import_nengo_loihi()

    net, probes = build_network(
        u, neuron_to_neuron=neuron_to_neuron, input_in_generator=input_in_generator, seed=seed, p=p
    )
    model = nengo_loihi.builder.Model(dt=p["dt"])
    if input_in_generator:
        model.decode_tau = p["tau"]
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sim = nengo_loihi.Simulator(net, dt=p["dt"], model=model, target=target, precompute=True)
    t1 = time.perf_counter()
    with sim:
        _run_chunks(sim, len(u), f"nengo-loihi ({sim.target})")
        t2 = time.perf_counter()
        states = _states(sim, probes)
        info = {
            "target": sim.target,
            "build_s": t1 - t0,
            "run_s": t2 - t1,
            "resources": chip_resources(sim.model),
            "warnings": summarize_warnings(caught),
        }
    return states, info


def decode(states, delays, order=PROTOCOL["order"]):
    """Decode delayed inputs from memory states.

    Parameters
    ----------
    states : ndarray, shape (T, order)
    delays : array_like, shape (k,)
        Fractions θ'/θ in [0, 1].

    Returns
    -------
    ndarray, shape (T, k)
    """
    return np.asarray(states) @ core.legendre_decoders(order, delays).T


def delay_targets(u, delays, p=PROTOCOL):
    """The input delayed by each θ' (zero before it), through the readout filter.

    Returns
    -------
    ndarray, shape (T, k)
    """
    u = np.asarray(u, dtype=float)
    out = np.zeros((u.size, len(delays)))
    for k, r in enumerate(delays):
        shift = int(round(r * p["theta"] / p["dt"]))
        out[shift:, k] = u[: u.size - shift]
    return spiking.lowpass_filter(out, p["readout_tau"], p["dt"])


def delay_nrmse(states, u, delays=DELAYS, p=PROTOCOL, skip=None):
    """NRMSE of each decoded delay against the filtered delayed input.

    Parameters
    ----------
    states : ndarray, shape (T, order)
    u : ndarray, shape (T,)
    delays : sequence of float
    skip : float, optional
        Seconds excluded at the start (default θ: the window is then full).

    Returns
    -------
    ndarray, shape (k,)
    """
    skip = p["theta"] if skip is None else skip
    start = int(round(skip / p["dt"]))
    est = decode(states, delays, p["order"])[start:]
    tgt = delay_targets(u, delays, p)[start:]
    return core.nrmse(est, tgt, axis=0)


def _best_lag_ms(states, ideal, p=PROTOCOL, max_lag=100):
    """Lag (ms) at which the states best match the ideal ones: a timing diagnostic.

    ``None`` when the best lag is the largest one tried: the states do not
    match the ideal ones at any lag below ``max_lag`` steps.
    """
    start = int(round(p["theta"] / p["dt"]))
    errs = [np.mean((states[start:] - np.roll(ideal, k, axis=0)[start:]) ** 2) for k in range(max_lag)]
    best = int(np.argmin(errs))
    return None if best == max_lag - 1 else float(best * p["dt"] * 1000)


def _state_gain(states, ideal, p=PROTOCOL):
    """Least-squares gain of each represented dimension against the ideal one (1 is exact)."""
    start = int(round(p["theta"] / p["dt"]))
    x, y = states[start:], ideal[start:]
    return np.sum(x * y, axis=0) / np.sum(y * y, axis=0)


def window_nrmse(states, u, p=PROTOCOL, window=1.0, skip=0.2):
    """Delay-0 NRMSE in each successive ``window`` (s), skipping its first ``skip`` s.

    The distribution of these values over a long run is what a short run
    (one window from the start) can be compared with.

    Returns
    -------
    ndarray, shape (n_windows,)
    """
    n, k0 = int(round(window / p["dt"])), int(round(skip / p["dt"]))
    est = decode(states, [0.0], p["order"])[:, 0]
    tgt = delay_targets(u, [0.0], p)[:, 0]
    return np.array([
        core.nrmse(est[s + k0 : s + n], tgt[s + k0 : s + n]) for s in range(0, len(u) - n + 1, n)
    ])


def _trace(u, runs, p, seconds=10.0, every=0.02):
    n = min(len(u), int(round(seconds / p["dt"])))
    step = int(round(every / p["dt"]))
    idx = np.arange(0, n, step)
    return {
        "t": np.round(idx * p["dt"], 4),
        "u": np.round(np.asarray(u)[idx], 4),
        "states": {k: np.round(v[idx], 4) for k, v in runs.items()},
    }


def run(mode=None, seed=0, duration=None, variants=None, save=True):
    """Run the three implementations (and the ablations) on the same input.

    Parameters
    ----------
    mode : {"quick", "full"}, optional
        ``quick``: the first 3 s of the input; ``full``: the paper's 50 s.
    seed : int
        Seed of the input and of the networks.
    duration : float, optional
        Override the simulated seconds.
    variants : sequence of str, optional
        nengo-loihi variants to run (keys of :data:`VARIANTS`; all by default).
    save : bool
        Write the results file (only when ``duration`` is the mode's default).

    Returns
    -------
    dict
        ``nrmse`` (per run: list over :data:`DELAYS`), ``best_lag_ms`` and ``state_gain``
        (timing and gain of the represented state against the ideal one),
        ``delay0_window_nrmse`` (median, 90th percentile and maximum of
        :func:`window_nrmse`: the delay-0 NRMSE of each second),
        ``info`` (timings, resources, warnings per run), ``trace`` (states every
        20 ms over the first 10 s, for plots), ``delays``, ``duration_s``.
    """
    mode = get_mode(mode)
    default = PROTOCOL[f"duration_{mode}"]
    duration = default if duration is None else float(duration)
    variants = list(VARIANTS) if variants is None else list(variants)
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"variants must be among {list(VARIANTS)}, got {v!r}")
    start = time.perf_counter()
    p = PROTOCOL
    u = input_signal(duration, p["dt"], seed)
    # long (full-mode) runs keep each finished emulator run, so an interrupted run resumes
    ckpt = checkpoint_dir(NAME, mode) if mode == "full" else None
    runs, info, resumed = {}, {}, []
    runs["ideal"] = run_ideal(u, p)
    runs["nengo"], info["nengo"] = run_nengo(u, seed=seed, p=p)
    for v in variants:
        path = None if ckpt is None else ckpt / f"{v}-seed{seed}-{duration:g}s.npz"
        if path is not None and path.exists():  # resume: a finished run is not repeated
            with np.load(path, allow_pickle=True) as f:
                runs[v], info[v] = f["states"], f["info"].item()
            resumed.append(v)
            continue
        n2n, gen = VARIANTS[v]
        runs[v], info[v] = run_loihi(u, neuron_to_neuron=n2n, input_in_generator=gen, seed=seed, p=p)
        if path is not None:
            np.savez(path, states=runs[v], info=np.array(info[v], dtype=object))
    results = {
        "duration_s": duration,
        "delays": list(DELAYS),
        "nrmse": {k: delay_nrmse(v, u, DELAYS, p) for k, v in runs.items()},
        "best_lag_ms": {k: _best_lag_ms(v, runs["ideal"], p) for k, v in runs.items() if k != "ideal"},
        "delay0_window_nrmse": {
            k: dict(zip(("median", "p90", "max"), np.percentile(window_nrmse(v, u, p), [50, 90, 100])))
            for k, v in runs.items()
        },
        "state_gain": {k: _state_gain(v, runs["ideal"], p) for k, v in runs.items() if k != "ideal"},
        "info": info,
        "trace": _trace(u, runs, p),
        "protocol": {k: v for k, v in p.items()},
        "variants": {k: {"neuron_to_neuron": VARIANTS[k][0], "input_in_generator": VARIANTS[k][1]} for k in variants},
    }
    wall = time.perf_counter() - start
    results["wall_time_s"] = wall
    if save and duration == default:
        save_results(
            NAME,
            results,
            provenance(mode, seeds={"input": seed, "network": seed}, wall_time_s=wall,
                       data={"input": "band-limited white noise", "seconds": duration},
                       # runs loaded from checkpoints keep their own build_s/run_s in "info"
                       resumed_from_checkpoints=resumed),
        )
    return results


def nrmse_table(results, runs=("ideal", "nengo", "loihi"), digits=3):
    """Rows ``[run, nrmse at each delay ...]`` rounded to ``digits``."""
    return [[r] + [round(float(x), digits) for x in results["nrmse"][r]] for r in runs if r in results["nrmse"]]


def comparison_rows(quick=None):
    """Rows for the Results chapter: delay-0, θ/2 and θ NRMSE of the emulator and nengo.

    The paper printed no NRMSE for this experiment (only its figure), so the
    "paper" column is empty.
    """
    full, quick = full_and_quick(NAME, quick)
    rows = []
    for run_name, label in (("loihi", "Loihi emulator"), ("nengo", "nengo (spiking)")):
        for k, r in enumerate(DELAYS):
            if r not in (0.0, 0.5, 1.0):
                continue
            delay = {0.0: "0", 0.5: "θ/2", 1.0: "θ"}[r]
            rows.append({
                "quantity": f"{label}: NRMSE of u(t − θ′), θ′ = {delay}",
                "paper": "not reported (figure only)",
                "full": float(full["nrmse"][run_name][k]) if full else "not run here: python -m lmu.experiments.loihi --mode full (about 30 min here)",
                "quick": float(quick["nrmse"][run_name][k]) if quick else None,
            })
    return rows


if __name__ == "__main__":
    cli(run, "The spiking LMU memory in nengo and on nengo-loihi's Loihi emulator (paper §9).")
