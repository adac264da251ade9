"""Error of a Poisson-spiking population against its size (paper-protocols §8).

One ensemble of ``m`` Poisson-spiking LIF neurons represents ``sin(2π f t)``
with f = 10 Hz; the decoded output and the ideal signal are both filtered with
τ = 0.01 / f, the simulation step is dt = 0.001 / f and a run lasts 1,000
steps (one period). The RMSE between the two falls like ``1 / √m``: the paper
draws the reference line ``5 / √m``. Sizes: ``m = 10 n`` for ``n`` in
``geomspace(10, 2001, 11)`` (integers), 5 seeds; quick mode uses fewer.

This module imports nengo (it defines a nengo neuron type); ``import lmu``
does not import it.

``python -m lmu.experiments.poisson --mode full`` runs the paper's sizes.
"""

import time

import nengo
import numpy as np
from nengo.params import NumberParam

from ..mode import get_mode
from .common import cli, full_and_quick, progress, provenance, save_results

__all__ = [
    "NAME",
    "PROTOCOL",
    "PoissonLIF",
    "sizes",
    "population_rmse",
    "fit_slope",
    "run",
    "comparison_rows",
]

NAME = "poisson"

PROTOCOL = {
    "freq": 10.0,  # Hz, frequency of the represented sinusoid
    "tau_rc": 0.02,  # s
    "tau_ref": 0.002,  # s
    "max_rates": (20.0, 40.0),  # Hz
    "steps": 1000,
    "n_sizes_full": 11,
    "n_sizes_quick": 6,
    "seeds_full": 5,
    "seeds_quick": 2,
    "n_eval_points": 1000,  # cap, see run(); nengo's default grows with 2 m
}


class PoissonLIF(nengo.neurons.NeuronType):
    """LIF rate curve with Poisson spikes.

    In each step of length ``dt`` a neuron driven by current ``J`` emits
    ``k ~ Poisson(r(J) dt)`` spikes, where ``r`` is the LIF rate curve

    .. math::

        r(J) = \\frac{1}{\\tau_{ref} + \\tau_{rc} \\ln(1 + 1 / (J - 1))}
        \\quad (J > 1), \\qquad r(J) = 0 \\text{ otherwise};

    its output is ``k / dt`` (spikes of height ``1 / dt``). The mean output is
    the LIF rate; the spike count is as irregular as a Poisson process.

    Parameters
    ----------
    tau_rc : float
        Membrane time constant, in seconds (> 0).
    tau_ref : float
        Refractory period, in seconds (>= 0).
    initial_state : dict, optional
        Unused (the neuron has no state besides its random generator); kept
        for nengo's API.
    """

    state = {}
    spiking = True
    negative = False

    tau_rc = NumberParam("tau_rc", low=0, low_open=True)
    tau_ref = NumberParam("tau_ref", low=0)

    def __init__(self, tau_rc=0.02, tau_ref=0.002, initial_state=None):
        super().__init__(initial_state)
        self.tau_rc = tau_rc
        self.tau_ref = tau_ref

    def rate(self, J):
        """LIF firing rate (Hz) for input current ``J`` (array, any shape)."""
        J = np.asarray(J, dtype=float)
        out = np.zeros_like(J)
        above = J > 1
        out[above] = 1.0 / (self.tau_ref + self.tau_rc * np.log1p(1.0 / (J[above] - 1.0)))
        return out

    def rates(self, x, gain, bias):
        """Mean firing rates (Hz): the LIF rate curve of ``gain x + bias``."""
        return self.rate(self.current(x, gain, bias))

    def gain_bias(self, max_rates, intercepts):
        """Gain and bias for the given maximum rates (Hz) and intercepts.

        The current is ``J = gain x + bias``, with ``J = 1`` (threshold) at
        ``x = intercept`` and ``r(J) = max_rate`` at ``x = 1``.
        """
        max_rates = np.asarray(max_rates, dtype=float)
        intercepts = np.asarray(intercepts, dtype=float)
        if np.any(max_rates * self.tau_ref >= 1):
            raise ValueError(f"max_rates must be below 1 / tau_ref = {1 / self.tau_ref:g} Hz")
        # invert r(J_max) = max_rate for the current at x = 1
        j_max = 1.0 / np.expm1((1.0 / max_rates - self.tau_ref) / self.tau_rc) + 1.0
        gain = (j_max - 1.0) / (1.0 - intercepts)
        bias = 1.0 - gain * intercepts
        return gain, bias

    def max_rates_intercepts(self, gain, bias):
        """Inverse of :meth:`gain_bias`."""
        gain = np.asarray(gain, dtype=float)
        bias = np.asarray(bias, dtype=float)
        intercepts = (1.0 - bias) / gain
        max_rates = self.rate(gain + bias)
        return max_rates, intercepts

    def make_state(self, n_neurons, rng=np.random, dtype=None):
        """No state besides the random generator nengo passes in."""
        state = super().make_state(n_neurons, rng=rng, dtype=dtype)
        state["rng"] = rng
        return state

    def step(self, dt, J, output, rng):
        """Poisson spike counts of the LIF rate within ``dt``, each of height ``1 / dt``."""
        output[...] = rng.poisson(self.rate(J) * dt) / dt


def sizes(mode=None):
    """Population sizes ``m = 10 n``, ``n = geomspace(10, 2001, k)`` rounded down.

    ``k`` is 11 in full mode and 6 in quick mode.
    """
    k = PROTOCOL[f"n_sizes_{get_mode(mode)}"]
    return [10 * int(n) for n in np.geomspace(10, 2001, k)]


def population_rmse(n_neurons, seed=0, p=PROTOCOL):
    """RMSE of one Poisson-LIF population representing ``sin(2π f t)``.

    Parameters
    ----------
    n_neurons : int
        Population size ``m``.
    seed : int
        Network seed (encoders, rates, intercepts, spikes).
    p : dict
        Protocol (:data:`PROTOCOL`).

    Returns
    -------
    float
        RMS over the ``p["steps"]`` steps of (decoded − ideal), both filtered
        with τ = 0.01 / f.
    """
    if int(n_neurons) < 1:
        raise ValueError(f"n_neurons must be >= 1, got {n_neurons}")
    f = p["freq"]
    dt, tau = 0.001 / f, 0.01 / f
    with nengo.Network(seed=seed) as net:
        stim = nengo.Node(lambda t: np.sin(2 * np.pi * f * t))
        ens = nengo.Ensemble(
            int(n_neurons),
            1,
            neuron_type=PoissonLIF(p["tau_rc"], p["tau_ref"]),
            max_rates=nengo.dists.Uniform(*p["max_rates"]),
            n_eval_points=min(p["n_eval_points"], 2 * int(n_neurons)),
        )
        nengo.Connection(stim, ens, synapse=None)
        p_ideal = nengo.Probe(stim, synapse=tau)
        p_decoded = nengo.Probe(ens, synapse=tau)
    with nengo.Simulator(net, dt=dt, progress_bar=False, optimize=False) as sim:
        sim.run_steps(p["steps"])
    err = sim.data[p_decoded] - sim.data[p_ideal]
    return float(np.sqrt(np.mean(err**2)))


def fit_slope(m, rmse):
    """Slope and intercept of ``log10(rmse)`` against ``log10(m)`` (−0.5 for 1/√m)."""
    slope, intercept = np.polyfit(np.log10(m), np.log10(rmse), 1)
    return float(slope), float(intercept)


def run(mode=None, seed=0, save=True):
    """RMSE against population size over seeds ``seed, seed + 1, ...``.

    Returns
    -------
    dict
        ``m`` (sizes), ``seeds``, ``rmse`` (len(m) × len(seeds)), ``mean``,
        ``slope`` and ``intercept`` of the log-log fit of the mean, and the
        reference ``5 / √m``.
    """
    mode = get_mode(mode)
    m = sizes(mode)
    seeds = list(range(seed, seed + PROTOCOL[f"seeds_{mode}"]))
    start = time.perf_counter()
    rmse = np.zeros((len(m), len(seeds)))
    jobs = [(i, j) for i in range(len(m)) for j in range(len(seeds))]
    for i, j in progress(jobs, desc="Poisson populations"):
        rmse[i, j] = population_rmse(m[i], seed=seeds[j])
    mean = rmse.mean(axis=1)
    slope, intercept = fit_slope(m, mean)
    wall = time.perf_counter() - start
    results = {
        "m": m,
        "seeds": seeds,
        "rmse": rmse,
        "mean": mean,
        "slope": slope,
        "intercept": intercept,
        "reference": [5 / np.sqrt(x) for x in m],
        "wall_time_s": wall,
    }
    if save:
        save_results(
            NAME,
            results,
            provenance(mode, seeds=seeds, wall_time_s=wall,
                       data={"signal": "sin(2 pi 10 t)", "steps": PROTOCOL["steps"]},
                       deviations=["decoders solved on at most 1,000 evaluation points "
                                   "(nengo's default, 2 m, needs GBs for m = 20,010)"]),
        )
    return results


def comparison_rows(quick=None):
    """Rows for the Results chapter: the fitted log-log slope (paper: O(1/√m))."""
    full, quick = full_and_quick(NAME, quick)
    return [{
        "quantity": "Poisson population: log-log slope of RMSE against m",
        "paper": -0.5,
        "full": full["slope"] if full else "not run here: python -m lmu.experiments.poisson --mode full",
        "quick": quick["slope"] if quick else None,
    }]


if __name__ == "__main__":
    cli(run, "Poisson-spiking LIF population: RMSE against size (paper §8).")
