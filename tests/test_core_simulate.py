"""Both methods of :func:`lmu.simulate_memory` (blocked recursion and FFT) equal the step loop."""

import numpy as np
import pytest

import lmu
from lmu import core

METHODS = {"blocked": lambda *args: True, "fft": lambda *args: False}


def step_loop(u, order, theta, dt=1.0, method="zoh"):
    """m[t] = Ad m[t-1] + Bd u[t] one step at a time, for u of shape (T,)."""
    Ad, Bd = lmu.discretize(*lmu.legendre_system(order, theta), dt=dt, method=method)
    m = np.zeros(order)
    out = np.empty((len(u), order))
    for t, ut in enumerate(u):
        m = Ad @ m + Bd[:, 0] * ut
        out[t] = m
    return out


@pytest.fixture(params=sorted(METHODS))
def forced(request, monkeypatch):
    """Force one of the two methods whatever the size."""
    monkeypatch.setattr(core, "_use_blocked", METHODS[request.param])
    return request.param


@pytest.mark.parametrize(
    "order, steps",
    [(1, 1), (1, 37), (2, 2), (3, 3), (5, 1000), (12, 2000), (16, 511), (64, 2000), (64, 1025),
     (100, 777), (256, 300), (256, 2049)],
)
def test_equals_step_loop(forced, order, steps):
    rng = np.random.default_rng(order * 10000 + steps)
    u = rng.normal(size=steps)
    theta = max(2.0, steps / 4)
    ref = step_loop(u, order, theta)
    m = lmu.simulate_memory(u, order, theta)
    assert m.shape == (steps, order)
    np.testing.assert_allclose(m, ref, rtol=0, atol=1e-10 * np.abs(ref).max())


@pytest.mark.parametrize("method", ["zoh", "euler"])
def test_batches_and_readout_equal_step_loop(forced, method):
    rng = np.random.default_rng(3)
    order, steps, theta, dt = 20, 999, 0.8, 0.004
    u = rng.normal(size=(4, steps, 1))
    readout = lmu.legendre_decoders(order, [0.0, 0.3, 1.0]).T
    refs = [step_loop(u[b, :, 0], order, theta, dt, method) for b in range(4)]
    m = lmu.simulate_memory(u, order, theta, dt, method)
    y = lmu.simulate_memory(u, order, theta, dt, method, readout=readout)
    # groups of one sequence give the same answer
    y1 = lmu.simulate_memory(u, order, theta, dt, method, readout=readout, max_batch_bytes=1)
    assert m.shape == (4, steps, order) and y.shape == y1.shape == (4, steps, 3)
    for b, ref in enumerate(refs):
        scale = np.abs(ref).max()
        np.testing.assert_allclose(m[b], ref, rtol=0, atol=1e-10 * scale)
        np.testing.assert_allclose(y[b], ref @ readout, rtol=0, atol=1e-10 * scale)
        np.testing.assert_allclose(y1[b], y[b], rtol=0, atol=1e-12 * scale)


def test_unstable_euler_raises_in_both_methods(forced):
    with pytest.raises(ValueError, match="unstable"):
        lmu.simulate_memory(np.ones(3000), 32, 1.0, dt=0.5, method="euler")


def test_method_choice_by_size():
    def choose(batch, steps, order, k=None):
        k = order if k is None else k
        nfft = 2 * steps
        return core._use_blocked(batch, steps, order, k, nfft, k != order)

    # the widgets: one sequence of 2,000 samples, all states of an order-64 memory
    assert choose(1, 2000, 64) and choose(1, 2000, 12)
    # the capacity experiment: 100 sequences x 250,000 steps, order 100, 5 delays read out
    assert not choose(100, 250_000, 100, k=5)
    # many sequences read out through one column: the FFT
    assert not choose(1000, 2000, 64, k=1)


def test_block_length_is_a_power_of_two_near_sqrt():
    for steps in (1, 2, 3, 100, 2000, 250_000):
        L = core._block_length(steps)
        assert L & (L - 1) == 0 and L >= 1
        assert np.sqrt(steps) / 2 <= L <= 2 * np.sqrt(steps)
