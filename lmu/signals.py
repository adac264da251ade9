"""Test signals for the memory: band-limited white noise and friends."""

import numpy as np

from ._validation import check_dt, check_order, check_theta

__all__ = ["band_limited_noise"]


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
    if cutoff >= 0.5 / dt:
        raise ValueError(f"cutoff={cutoff:g} must be below the Nyquist frequency {0.5 / dt:g}")
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
