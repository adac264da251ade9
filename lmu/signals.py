"""Test signals for the memory: band-limited white noise and friends."""

import numpy as np

from ._validation import check_dt, check_finite_array, check_order, check_theta

__all__ = [
    "band_limited_noise",
    "sines",
    "random_steps",
    "spike_train",
    "make_signal",
    "delayed",
    "signal_at",
    "SIGNAL_KINDS",
]


def _check_below_nyquist(cutoff, dt):
    if cutoff >= 0.5 / dt:
        raise ValueError(f"cutoff={cutoff:g} must be below the Nyquist frequency {0.5 / dt:g}")


def band_limited_noise(steps, dt=1.0, cutoff=1.0, rms=0.5, seed=None, start_at_zero=False):
    """Periodic white noise with a flat spectrum up to ``cutoff``.

    Parameters
    ----------
    steps : int
        Number of samples ``T``.
    dt : float, default 1.0
        Sample spacing, in seconds (or steps).
    cutoff : float, default 1.0
        Highest frequency present, in cycles per unit of ``dt`` (Hz when ``dt``
        is in seconds). Must be at least one cycle per signal length and below
        the Nyquist frequency ``1 / (2 dt)``.
    rms : float, default 0.5
        Root-mean-square amplitude of the result.
    seed : int or numpy.random.Generator, optional
        Seed or generator; the same seed gives the same signal.
    start_at_zero : bool, default False
        Circularly shift the (periodic) signal so that it starts at the
        zero crossing nearest its start.

    Returns
    -------
    ndarray, shape (steps,)
    """
    steps = check_order(steps, "steps")
    dt = check_dt(dt)
    cutoff = check_theta(cutoff, "cutoff")
    rms = check_theta(rms, "rms")
    duration = steps * dt
    freqs = np.fft.rfftfreq(steps, d=dt)
    band = (freqs > 0) & (freqs <= cutoff)
    if not band.any():
        raise ValueError(
            f"cutoff={cutoff:g} leaves no frequency: it must be >= 1 / (steps * dt) = "
            f"{1 / duration:g}"
        )
    _check_below_nyquist(cutoff, dt)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    coef = np.zeros(freqs.size, dtype=complex)
    n = int(band.sum())
    coef[band] = rng.normal(size=n) + 1j * rng.normal(size=n)
    signal = np.fft.irfft(coef, n=steps)
    signal *= rms / np.sqrt(np.mean(signal**2))
    if start_at_zero:
        crossings = np.flatnonzero(np.signbit(signal[:-1]) != np.signbit(signal[1:]))
        if crossings.size:
            i = crossings[0] + 1
            signal = np.roll(signal, -i)
    return signal


# --- further test signals (used by the lmu_viz explorers) --------------------

SIGNAL_KINDS = ("noise", "sines", "steps", "spikes")


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _scale_rms(signal, rms):
    power = np.sqrt(np.mean(signal**2))
    return signal * (rms / power) if power > 0 else signal


def sines(steps, dt=1.0, cutoff=1.0, n=3, rms=0.5, seed=None):
    """A sum of ``n`` sinusoids with random frequencies up to ``cutoff``.

    Parameters
    ----------
    steps : int
        Number of samples ``T``.
    dt : float, default 1.0
        Sample spacing, in seconds (or steps).
    cutoff : float, default 1.0
        Highest frequency, in cycles per unit of ``dt``; the frequencies are
        drawn uniformly from ``[cutoff / 5, cutoff]``. Must be below the
        Nyquist frequency ``1 / (2 dt)``.
    n : int, default 3
        Number of sinusoids.
    rms : float, default 0.5
        Root-mean-square amplitude of the result.
    seed : int or numpy.random.Generator, optional
        The same seed gives the same signal.

    Returns
    -------
    ndarray, shape (steps,)
    """
    steps = check_order(steps, "steps")
    dt = check_dt(dt)
    cutoff = check_theta(cutoff, "cutoff")
    n = check_order(n, "n")
    rms = check_theta(rms, "rms")
    _check_below_nyquist(cutoff, dt)
    rng = _rng(seed)
    freqs = rng.uniform(cutoff / 5, cutoff, size=n)
    phases = rng.uniform(0, 2 * np.pi, size=n)
    t = np.arange(steps) * dt
    signal = np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None]).sum(axis=0)
    return _scale_rms(signal, rms)


def random_steps(steps, dt=1.0, rate=1.0, rms=0.5, seed=None):
    """A piecewise-constant signal that jumps to a new random level at random times.

    Parameters
    ----------
    steps : int
        Number of samples ``T``.
    dt : float, default 1.0
        Sample spacing, in seconds (or steps).
    rate : float, default 1.0
        Mean number of jumps per unit of time (Poisson times); at least one
        jump is always placed inside the signal.
    rms : float, default 0.5
        Root-mean-square amplitude of the result (unless the levels are all 0).
    seed : int or numpy.random.Generator, optional
        The same seed gives the same signal.

    Returns
    -------
    ndarray, shape (steps,)
        Level 0 until the first jump, then standard-normal levels scaled
        together to the requested rms.
    """
    steps = check_order(steps, "steps")
    dt = check_dt(dt)
    rate = check_theta(rate, "rate")
    rms = check_theta(rms, "rms")
    rng = _rng(seed)
    jumps = rng.random(steps) < -np.expm1(-rate * dt)
    if not jumps[1:].any() and steps > 1:
        jumps[rng.integers(1, steps)] = True
    jumps[0] = False
    segment = np.cumsum(jumps)
    levels = np.concatenate([[0.0], rng.normal(size=int(segment[-1]))])
    return _scale_rms(levels[segment], rms)


def spike_train(steps, dt=1.0, rate=1.0, seed=None):
    """Unit-area impulses at Poisson times.

    Parameters
    ----------
    steps : int
        Number of samples ``T``.
    dt : float, default 1.0
        Sample spacing, in seconds (or steps).
    rate : float, default 1.0
        Mean number of spikes per unit of time; at least one spike is placed.
    seed : int or numpy.random.Generator, optional
        The same seed gives the same signal.

    Returns
    -------
    ndarray, shape (steps,)
        0 everywhere except the spikes, which have height ``1 / dt`` (so each
        has area 1, the discrete picture of a Dirac impulse).
    """
    steps = check_order(steps, "steps")
    dt = check_dt(dt)
    rate = check_theta(rate, "rate")
    rng = _rng(seed)
    spikes = rng.random(steps) < -np.expm1(-rate * dt)
    if not spikes.any():
        spikes[rng.integers(0, steps)] = True
    return spikes / dt


def make_signal(kind, steps, dt=1.0, cutoff=1.0, seed=None):
    """One of the test signals by name, with a common set of parameters.

    Parameters
    ----------
    kind : {"noise", "sines", "steps", "spikes"}
        ``"noise"``: :func:`band_limited_noise` (rms 0.5); ``"sines"``:
        :func:`sines` (3 sinusoids, rms 0.5); ``"steps"``:
        :func:`random_steps` with ``rate = cutoff`` (rms 0.5); ``"spikes"``:
        :func:`spike_train` with ``rate = cutoff``.
    steps : int
        Number of samples ``T``.
    dt : float, default 1.0
        Sample spacing, in seconds (or steps).
    cutoff : float, default 1.0
        Highest frequency (noise, sines) or event rate (steps, spikes), per
        unit of time.
    seed : int or numpy.random.Generator, optional
        The same seed gives the same signal.

    Returns
    -------
    ndarray, shape (steps,)
    """
    if not isinstance(kind, str) or kind not in SIGNAL_KINDS:
        raise ValueError(f"kind must be one of {SIGNAL_KINDS}, got {kind!r}")
    if kind == "noise":
        return band_limited_noise(steps, dt=dt, cutoff=cutoff, seed=seed)
    if kind == "sines":
        return sines(steps, dt=dt, cutoff=cutoff, seed=seed)
    if kind == "steps":
        return random_steps(steps, dt=dt, rate=cutoff, seed=seed)
    return spike_train(steps, dt=dt, rate=cutoff, seed=seed)


def delayed(u, delay, dt=1.0):
    """The continuous input the memory represents, delayed by ``delay``.

    :func:`lmu.simulate_memory` holds sample ``u[k]`` constant over the step
    ``((k - 1) dt, k dt]`` (zero-order hold) and starts from rest. The smooth
    signal that this staircase follows passes through ``u[k]`` at the middle
    of its step, ``(k - 1/2) dt``: the hold delays the input by half a step.
    This function returns that signal (linear interpolation between the step
    middles, 0 before the first sample, the last sample held after the end)
    at the times ``k dt - delay``: the target of an ideal delay readout
    ``u(t - theta')``, so that what remains between it and the decoded memory
    is the memory's own error, not the half step of the hold.

    Parameters
    ----------
    u : array_like, shape (..., T)
        Input sequences, time on the last axis.
    delay : float
        The delay ``theta'`` (>= 0), in the unit of ``dt``.
    dt : float, default 1.0
        Sample spacing.

    Returns
    -------
    ndarray, shape (..., T)
        ``out[..., k]`` is the signal at time ``k dt - delay``. For a delay of
        ``D + 1/2`` whole steps this is ``u`` shifted by ``D`` steps, with
        zeros in front.
    """
    u = check_finite_array(u, "u")
    if u.ndim < 1 or u.shape[-1] < 1:
        raise ValueError(f"u must have at least one time step, got shape {u.shape}")
    if isinstance(delay, bool) or not np.isscalar(delay) or not np.isfinite(delay):
        raise TypeError(f"delay must be a finite real number, got {delay!r}")
    if delay < 0:
        raise ValueError(f"delay must be >= 0, got {delay}")
    return signal_at(u, np.arange(u.shape[-1]) * dt - delay, dt)


def signal_at(u, times, dt=1.0):
    """Evaluate the continuous input that the memory represents at any times.

    Sample ``u[k]`` sits at time ``(k - 1/2) dt``, the middle of the step over
    which :func:`lmu.simulate_memory` holds it (see :func:`delayed`); the
    signal is linear between samples, 0 before the first step (the memory
    starts from rest) and holds the last sample after the end.

    Parameters
    ----------
    u : array_like, shape (..., T)
        Input sequences, time on the last axis.
    times : array_like, shape (n,)
        Times, in the unit of ``dt`` (time 0 is step 0).
    dt : float, default 1.0
        Sample spacing.

    Returns
    -------
    ndarray, shape (..., n)
    """
    u = check_finite_array(u, "u")
    if u.ndim < 1 or u.shape[-1] < 1:
        raise ValueError(f"u must have at least one time step, got shape {u.shape}")
    dt = check_dt(dt)
    times = np.atleast_1d(check_finite_array(times, "times", ndim=(0, 1)))
    steps = u.shape[-1]
    # position in samples, where sample k sits at time (k - 1/2) dt
    pos = np.clip(times / dt + 0.5, -1.0, steps - 1.0)
    low = np.floor(pos).astype(int)
    frac = pos - low
    padded = np.concatenate([np.zeros(u.shape[:-1] + (1,)), u, u[..., -1:]], axis=-1)
    # padded[j + 1] is u[j]; padded[0] is the rest before the start
    return (1 - frac) * padded[..., low + 1] + frac * padded[..., low + 2]
