"""Headless tests of the lmu_viz explorers: the artists show what lmu computes."""

import base64

import ipywidgets as widgets
import numpy as np
import pytest

import lmu
import lmu_viz
from lmu_viz import (
    DelayReconstructionExplorer,
    LegendreBasisExplorer,
    MemoryStateExplorer,
    SystemExplorer,
)


def segments_y(collection):
    """The y values of every line of a LineCollection, shape (n_lines, n_points)."""
    return np.array([seg[:, 1] for seg in collection.get_segments()])


def independent_nrmse(estimate, target):
    return np.sqrt(np.mean((estimate - target) ** 2)) / np.sqrt(np.mean(target**2))


@pytest.fixture
def count_simulations(monkeypatch):
    """Replace lmu.simulate_memory by a wrapper counting its calls."""
    calls = []
    original = lmu.simulate_memory

    def counting(*args, **kwargs):
        calls.append((args[1:], kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(lmu, "simulate_memory", counting)
    return calls


# --- LegendreBasisExplorer -----------------------------------------------------


def test_basis_initial_figure_is_the_papers():
    ex = LegendreBasisExplorer(backend="none")
    r = np.linspace(0, 1, 1000)
    expected = lmu.legendre_decoders(12, r).T
    ys = segments_y(ex.lines)
    assert ys.shape == (12, 1000)
    np.testing.assert_array_equal(ys, expected)
    np.testing.assert_array_equal(ex.lines.get_segments()[3][:, 0], r)
    # one colour per polynomial, along the ramp
    colours = ex.lines.get_colors()
    assert len({tuple(c) for c in np.round(colours, 6)}) == 12
    assert ex.ax.get_xlabel().startswith("delay θ′/θ")
    assert ex.status.value == ""


def test_basis_slider_changes_the_lines():
    ex = LegendreBasisExplorer(backend="none")
    ex.controls["order"].value = 20
    r = np.linspace(0, 1, 1000)
    np.testing.assert_array_equal(segments_y(ex.lines), lmu.legendre_decoders(20, r).T)
    # the colour is the place i / (d - 1) in the family: the colour bar never changes
    np.testing.assert_allclose(ex.lines.get_array(), np.arange(20) / 19)
    assert ex.last_redraw == "data"
    assert ex.controls["highlight"].max == 19
    ex.controls["highlight"].value = 17
    x, y = ex.highlight_line.get_data()
    np.testing.assert_array_equal(y, lmu.legendre_decoders(20, r)[:, 17])
    ex.controls["highlight"].value = -1
    assert len(ex.highlight_line.get_xdata()) == 0


def test_basis_update_and_sliders_agree():
    a = LegendreBasisExplorer(backend="none")
    b = LegendreBasisExplorer(backend="none")
    assert a.update(order=7, highlight=3) is a
    b.controls["order"].value = 7
    b.controls["highlight"].value = 3
    assert a.params == b.params == {"order": 7, "highlight": 3}
    np.testing.assert_array_equal(segments_y(a.lines), segments_y(b.lines))
    np.testing.assert_array_equal(a.highlight_line.get_ydata(), b.highlight_line.get_ydata())


def test_basis_bad_values_are_explained_not_raised():
    ex = LegendreBasisExplorer(backend="none")
    ex.update(order=1000)
    assert ex.params["order"] == 64 and "outside [1, 64]" in ex.status.value
    assert segments_y(ex.lines).shape == (64, 1000)
    ex.update(order=2.5)
    assert ex.params["order"] == 64 and "whole number" in ex.status.value
    ex.update(order="many")
    assert "not a number" in ex.status.value
    ex.update(order=3, highlight=10)  # beyond d: the slider bound clips it
    assert ex.params == {"order": 3, "highlight": 2}
    ex.update(order=5)
    assert ex.status.value == ""
    with pytest.raises(TypeError, match="unknown parameter"):
        ex.update(degree=3)


# --- DelayReconstructionExplorer -------------------------------------------------


def expected_delay(theta, order, delay, cutoff=1.0, seed=0, signal="noise", steps=2000, dt=0.005):
    u = lmu.make_signal(signal, steps, dt=dt, cutoff=cutoff, seed=seed)
    readout = lmu.legendre_decoders(order, [delay]).T
    estimate = lmu.simulate_memory(u, order, theta, dt, readout=readout)[:, 0]
    target = lmu.delayed(u, delay * theta, dt)
    start = int(np.ceil(theta / dt))
    return u, estimate, target, independent_nrmse(estimate[start:], target[start:])


def test_delay_slider_changes_the_data_to_what_lmu_computes():
    ex = DelayReconstructionExplorer(backend="none")
    ex.controls["delay"].value = 0.4
    ex.controls["order"].value = 9
    u, estimate, target, error = expected_delay(1.0, 9, 0.4)
    np.testing.assert_array_equal(ex.input_line.get_ydata(), u)
    np.testing.assert_allclose(ex.estimate_line.get_ydata(), estimate, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ex.target_line.get_ydata(), target, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ex.input_line.get_xdata(), np.arange(2000) * 0.005)


@pytest.mark.parametrize(
    "params",
    [
        {"theta": 1.0, "order": 6, "delay": 1.0},
        {"theta": 2.0, "order": 3, "delay": 0.5, "signal": "sines", "cutoff": 2.0},
        {"theta": 0.5, "order": 12, "delay": 0.0, "signal": "steps", "seed": 4},
    ],
)
def test_delay_nrmse_shown_is_the_independent_nrmse(params):
    ex = DelayReconstructionExplorer(backend="none", **params)
    full = dict(theta=1.0, order=6, delay=1.0, cutoff=1.0, seed=0, signal="noise") | params
    cutoff = ex.params["cutoff"]  # the log slider's own value of the cut-off
    *_, error = expected_delay(
        full["theta"], full["order"], full["delay"], cutoff, full["seed"], full["signal"]
    )
    assert ex.nrmse == pytest.approx(error, rel=1e-6)
    assert f"NRMSE = {100 * error:.3g}%" in ex.title.get_text()
    # the current setting is marked on the NRMSE-against-d panel: on the
    # steady-state curve, and the measured NRMSE beside it
    u = lmu.make_signal(full["signal"], 2000, dt=0.005, cutoff=cutoff, seed=full["seed"])
    steady = lmu.steady_state_nrmse(u, full["order"], full["theta"], 0.005, full["delay"])
    assert list(ex.current_marker.get_xdata()) == [full["order"]]
    assert ex.current_marker.get_ydata()[0] == pytest.approx(steady, rel=1e-9)
    assert list(ex.measured_marker.get_xdata()) == [full["order"]]
    assert ex.measured_marker.get_ydata()[0] == pytest.approx(error, rel=1e-6)


def test_delay_sweep_panel_is_the_steady_state_nrmse_per_order():
    ex = DelayReconstructionExplorer(backend="none", delay=0.5, sweep_orders=[2, 5, 10])
    u = lmu.make_signal("noise", 2000, dt=0.005, cutoff=1.0, seed=0)
    assert list(ex.sweep_line.get_xdata()) == [2, 5, 10]
    for d, shown in zip([2, 5, 10], ex.sweep_line.get_ydata()):
        assert shown == lmu.steady_state_nrmse(u, d, 1.0, 0.005, 0.5)
    np.testing.assert_array_equal(ex.sweep, ex.sweep_line.get_ydata())
    # where the memory's own error dominates, it is what the top panel measures
    low = ex.sweep_line.get_ydata()[0]
    assert low == pytest.approx(expected_delay(1.0, 2, 0.5)[3], rel=0.05)
    # more order, less error for a band-limited input
    assert np.all(np.diff(ex.sweep_line.get_ydata()) < 0)
    # the panel's limits are fixed: changes never redraw its ticks
    ylim = ex.ax_sweep.get_ylim()
    ex.update(theta=2.5, order=9)
    assert ex.ax_sweep.get_ylim() == ylim and ex.last_redraw == "data"


def test_delay_error_against_theta_f_panel():
    ex = DelayReconstructionExplorer(backend="none", theta=2.0, order=5, delay=0.5)
    ex.update(panel="error against θ·f")
    assert ex.ax_sweep.get_xscale() == "log" and "θ·f" in ex.ax_sweep.get_xlabel()
    x, y = ex.sweep_line.get_data()
    np.testing.assert_array_equal(x, lmu_viz.delay.THETA_FREQS)
    np.testing.assert_allclose(y, lmu.delay_error(5, x, 0.5), rtol=1e-12)
    # the current θ times the cut-off is marked, on the same curve
    cutoff = ex.params["cutoff"]
    assert ex.current_marker.get_xdata()[0] == pytest.approx(2.0 * cutoff)
    assert ex.current_marker.get_ydata()[0] == pytest.approx(lmu.delay_error(5, 2.0 * cutoff, 0.5))
    assert not ex.measured_marker.get_visible()
    ex.update(theta=1.0)  # moves only the marker
    assert ex.current_marker.get_xdata()[0] == pytest.approx(cutoff)
    np.testing.assert_array_equal(ex.sweep_line.get_ydata(), y)
    ex.update(delay=1.0, order=8)  # a new curve: the error of the Padé delay
    np.testing.assert_allclose(ex.sweep_line.get_ydata(), lmu.delay_error(8, x, 1.0), rtol=1e-12)
    ex.update(panel="NRMSE against d")
    assert ex.ax_sweep.get_xlabel() == "order d" and ex.measured_marker.get_visible()
    assert ex.status.value == ""


def test_delay_change_of_theta_prime_does_not_resimulate(count_simulations):
    ex = DelayReconstructionExplorer(backend="none", sweep_orders=[4, 8])
    assert len(count_simulations) == 1  # order 6 (the sweep is in the frequency domain)
    count_simulations.clear()
    ex.update(delay=0.3)
    ex.controls["delay"].value = 0.7
    assert count_simulations == []
    u, estimate, *_ = expected_delay(1.0, 6, 0.7)
    np.testing.assert_allclose(ex.estimate_line.get_ydata(), estimate, atol=1e-10)
    assert ex.last_redraw == "blit"
    count_simulations.clear()
    ex.update(theta=1.5)  # a new window: the memory is simulated again
    assert len(count_simulations) == 1
    count_simulations.clear()
    ex.update(theta=1.0)  # back to cached memories
    assert count_simulations == []


def test_delay_update_and_sliders_agree():
    a = DelayReconstructionExplorer(backend="none", sweep_orders=[])
    b = DelayReconstructionExplorer(backend="none", sweep_orders=[])
    a.update(theta=1.5, order=10, delay=0.25, signal="sines", seed=3)
    b.controls["signal"].value = "sines"
    b.controls["seed"].value = 3
    b.controls["theta"].value = 1.5
    b.controls["order"].value = 10
    b.controls["delay"].value = 0.25
    assert a.params == b.params
    np.testing.assert_array_equal(a.estimate_line.get_ydata(), b.estimate_line.get_ydata())
    assert a.nrmse == b.nrmse


def test_delay_errors_from_lmu_reach_the_status_line(monkeypatch):
    ex = DelayReconstructionExplorer(backend="none", sweep_orders=[])
    before = ex.estimate_line.get_ydata().copy()

    def broken(*args, **kwargs):
        raise ValueError("the discretized memory is unstable")

    monkeypatch.setattr(lmu, "simulate_memory", broken)
    ex.update(order=13)  # must not raise
    assert "unstable" in ex.status.value
    np.testing.assert_array_equal(ex.estimate_line.get_ydata(), before)
    monkeypatch.undo()
    ex.update(order=14)
    assert ex.status.value == ""


def test_delay_bad_values():
    ex = DelayReconstructionExplorer(backend="none", sweep_orders=[])
    ex.update(delay=1.5)
    assert ex.params["delay"] == 1.0 and "outside [0, 1]" in ex.status.value
    ex.update(signal="chirp")
    assert ex.params["signal"] == "noise" and "not one of" in ex.status.value
    ex.update(delay=float("nan"))
    assert ex.params["delay"] == 1.0 and "not finite" in ex.status.value


# --- MemoryStateExplorer ---------------------------------------------------------


def test_memory_views_show_the_simulated_memory(count_simulations):
    ex = MemoryStateExplorer(backend="none", theta=1.0, order=8, t=5.0)
    u = lmu.make_signal("noise", 2000, dt=0.005, cutoff=1.0, seed=0)
    m = lmu.simulate_memory(u, 8, 1.0, 0.005)
    np.testing.assert_allclose(ex.heat.get_array(), m.T, atol=1e-12)
    np.testing.assert_allclose(segments_y(ex.lines), m.T, atol=1e-12)
    count_simulations.clear()
    ex.controls["t"].value = 7.5
    assert count_simulations == []  # the cursor only decodes
    k = 1500
    r = np.linspace(0, 1, 200)
    window = lmu.legendre_decoders(8, r) @ m[k]
    times = k * 0.005 - r * 1.0
    np.testing.assert_allclose(ex.window_line.get_ydata(), window, atol=1e-10)
    np.testing.assert_allclose(ex.window_line.get_xdata(), times)
    truth = lmu.signals.signal_at(u, times, 0.005)
    np.testing.assert_allclose(ex.truth_line.get_ydata(), truth)
    assert ex.window_nrmse == pytest.approx(independent_nrmse(window, truth), rel=1e-9)
    assert list(ex.cursors[1].get_xdata()) == [7.5, 7.5]


def test_memory_order_change_resizes_the_heatmap():
    ex = MemoryStateExplorer(backend="none", order=4)
    ex.update(order=30, theta=2.0)
    u = lmu.make_signal("noise", 2000, dt=0.005, cutoff=1.0, seed=0)
    m = lmu.simulate_memory(u, 30, 2.0, 0.005)
    assert ex.heat.get_array().shape == (30, 2000)
    np.testing.assert_allclose(ex.heat.get_array(), m.T, atol=1e-12)
    assert ex.ax_heat.get_ylim() == (-0.5, 29.5)
    low, high = ex.heat.get_clim()  # a round scale (1, 2, 5 x 10^k) that holds every state
    assert low == -high and np.abs(m).max() <= high < 2.5 * np.abs(m).max()
    assert high / 10 ** np.floor(np.log10(high)) in (1.0, 2.0, 5.0)
    assert ex.ax_lines.get_ylim() == pytest.approx((-1.05 * high, 1.05 * high))
    # more states than max_lines: the heatmap shows all, the lines a spread of them
    shown = ex.line_indices(30)
    assert shown[0] == 0 and shown[-1] == 29 and len(shown) == ex.max_lines == 16
    np.testing.assert_allclose(segments_y(ex.lines), m[:, shown].T, atol=1e-12)
    np.testing.assert_allclose(ex.lines.get_array(), shown / 29)
    assert "16 of the 30 states" in ex.lines_note.get_text()
    ex.update(t=0.3)
    assert "before the start" in ex.status.value


# --- SystemExplorer --------------------------------------------------------------


def test_system_images_and_poles_are_lmus():
    ex = SystemExplorer(backend="none", order=5, theta=2.0, dt=0.1, method="zoh")
    A, B = lmu.legendre_system(5, 2.0)
    Ad, Bd = lmu.discretize(A, B, dt=0.1, method="zoh")
    for name, matrix in {"A": A, "B": B, "Ad": Ad, "Bd": Bd}.items():
        np.testing.assert_allclose(
            ex.images[name].get_array(), matrix / np.abs(matrix).max(), atol=1e-12
        )
    lam = lmu.system_eigenvalues(5, 2.0)  # the s-plane shows λθ
    np.testing.assert_allclose(
        ex.poles_s.get_offsets(), 2.0 * np.column_stack([lam.real, lam.imag]), rtol=1e-9
    )
    z = lmu.system_eigenvalues(5, 2.0, dt=0.1, method="zoh")
    np.testing.assert_allclose(ex.poles_z.get_offsets(), np.column_stack([z.real, z.imag]))
    assert ex.stable and ex.status.value == ""
    assert ex.spectral_radius == pytest.approx(np.abs(z).max())


def test_system_warns_when_euler_is_unstable():
    ex = SystemExplorer(backend="none", order=12, theta=1.0, dt=0.01, method="euler")
    assert ex.stable and ex.status.value == ""
    bound = lmu.euler_max_stable_dt(12, 1.0)
    ex.controls["dt"].value = 0.05  # beyond the bound (about 0.028 s)
    assert bound < 0.05
    assert not ex.stable
    assert "unstable" in ex.status.value and f"dt &lt; {bound:.3g} s" in ex.status.value
    z = lmu.system_eigenvalues(12, 1.0, dt=0.05, method="euler")
    colours = ex.poles_z.get_facecolors()
    outside = np.abs(ex.poles_z.get_offsets() @ [1, 1j]) > 1
    assert outside.sum() == (np.abs(z) > 1).sum() > 0
    assert not np.allclose(colours[outside][0], colours[~outside][0])
    ex.update(method="zoh")  # the same step is fine with zero-order hold
    assert ex.stable and ex.status.value == ""


def test_system_update_and_sliders_agree():
    a = SystemExplorer(backend="none")
    b = SystemExplorer(backend="none")
    a.update(order=9, dt=0.002, method="euler")
    b.controls["order"].value = 9
    b.controls["method"].value = "euler"
    b.controls["dt"].value = 0.002
    assert a.params == b.params
    np.testing.assert_array_equal(a.images["Ad"].get_array(), b.images["Ad"].get_array())
    a.update(dt=50.0)
    assert a.params["dt"] == pytest.approx(1.0) and "outside" in a.status.value


# --- display ---------------------------------------------------------------------


def test_inline_backend_shows_a_png_in_an_output_widget():
    ex = SystemExplorer(backend="inline", order=3)
    assert isinstance(ex.widget, widgets.VBox)
    output = ex.widget.children[1]
    assert isinstance(output, widgets.Output)
    first = output.outputs[0]["data"]["image/png"]
    assert base64.b64decode(first)[:8] == b"\x89PNG\r\n\x1a\n"
    ex.update(order=7)
    assert output.outputs[0]["data"]["image/png"] != first
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"] == output.outputs[0]["data"]["image/png"]
    assert set(ex.timings) == set(ex.cpu_timings) == {"compute", "render", "draw"}
    assert ex.controls["order"].continuous_update is False  # inline: update on release


def test_public_names():
    assert set(lmu_viz.__all__) >= {
        "LegendreBasisExplorer",
        "DelayReconstructionExplorer",
        "MemoryStateExplorer",
        "SystemExplorer",
    }
    with pytest.raises(ValueError, match="backend"):
        LegendreBasisExplorer(backend="svg")


def test_backend_choice():
    ex = LegendreBasisExplorer(backend="auto", order=2)  # Agg is active in the tests
    assert ex.backend == "inline"


@pytest.mark.parametrize(
    "factory, change",
    [
        (lambda: LegendreBasisExplorer(backend="ipympl", order=12), {"order": 20, "highlight": 3}),
        (lambda: DelayReconstructionExplorer(backend="ipympl"), {"theta": 2.0, "delay": 0.3}),
        (lambda: MemoryStateExplorer(backend="ipympl", order=6), {"theta": 1.5, "t": 2.0}),
        (lambda: SystemExplorer(backend="ipympl"), {"dt": 0.05, "theta": 2.0}),
    ],
)
def test_ipympl_backend(factory, change):
    """With ipympl (a pinned dependency) the figure's canvas is the widget and updates draw on it."""
    from ipympl.backend_nbagg import Canvas

    ex = factory()
    assert ex.backend == "ipympl"
    assert isinstance(ex.figure.canvas, Canvas) and ex.widget.children[1] is ex.figure.canvas
    ex.update(**change)
    for name, value in change.items():
        assert ex.params[name] == pytest.approx(value)
    assert ex.last_redraw in ("blit", "data", "axes", "full")
    assert not ex.status.value  # no error shown
    # without a front end ipympl only schedules its draws; a forced draw renders the figure
    ex.figure.canvas.draw()
    pixels = np.asarray(ex.figure.canvas.buffer_rgba())
    assert (pixels[..., :3] < 128).mean() > 0.005  # axes, curves and text were drawn


@pytest.mark.parametrize(
    "factory, change, kind",
    [
        (lambda: LegendreBasisExplorer(backend="none", order=12), {"highlight": 4}, "blit"),
        (lambda: LegendreBasisExplorer(backend="none", order=12), {"order": 40}, "data"),
        (lambda: DelayReconstructionExplorer(backend="none", sweep_orders=[3, 6]), {"delay": 0.9}, "blit"),
        (lambda: DelayReconstructionExplorer(backend="none"), {"theta": 2.2}, "data"),
        (lambda: DelayReconstructionExplorer(backend="none"), {"signal": "steps"}, "axes"),
        (lambda: DelayReconstructionExplorer(backend="none"), {"panel": "error against θ·f"}, "axes"),
        (lambda: MemoryStateExplorer(backend="none", order=6), {"t": 2.5}, "blit"),
        (lambda: MemoryStateExplorer(backend="none", order=6), {"theta": 1.7}, "data"),
        (lambda: MemoryStateExplorer(backend="none", order=6), {"order": 40}, "axes"),
        (lambda: SystemExplorer(backend="none", method="euler"), {"dt": 0.012}, "blit"),
        (lambda: SystemExplorer(backend="none"), {"theta": 3.0}, "data"),
        (lambda: SystemExplorer(backend="none"), {"order": 20}, "axes"),
        (lambda: SystemExplorer(backend="none", method="euler", order=12), {"dt": 0.3}, "axes"),
    ],
)
def test_partial_update_looks_like_a_full_redraw(factory, change, kind):
    ex = factory()
    ex.update(**change)  # only what changed is redrawn: some axes, a layer or the fast artists
    assert not ex._full_redraw and ex.last_redraw == kind
    blitted = np.asarray(ex.figure.canvas.buffer_rgba()).copy()
    ex.figure.canvas.draw()  # everything from scratch
    full = np.asarray(ex.figure.canvas.buffer_rgba())
    differ = np.any(blitted != full, axis=-1).mean()
    assert differ < 0.002, f"{differ:.2%} of the pixels differ"
    # and a saved figure contains the fast artists too
    import io

    buffer = io.BytesIO()
    ex.figure.savefig(buffer, format="png")
    assert ex._background is None  # saving invalidates the kept background


def test_delay_undefined_nrmse_is_explained():
    # one spike at 6.6 s: delayed by 4 s it lies beyond the 10 s shown
    ex = DelayReconstructionExplorer(
        backend="none", signal="spikes", cutoff=0.2, seed=1, theta=4.0, sweep_orders=[2]
    )
    assert np.isnan(ex.nrmse)
    assert "undefined" in ex.title.get_text() and "undefined" in ex.status.value
    ex.update(delay=0.1)  # now the spike is inside: defined again
    assert np.isfinite(ex.nrmse) and ex.status.value == ""


def test_import_lmu_viz_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, lmu_viz; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_delay_silent_input_is_explained_not_an_error(monkeypatch):
    # an input without any event in the shown time: every NRMSE is undefined
    monkeypatch.setattr(lmu, "make_signal", lambda kind, steps, **kwargs: np.zeros(steps))
    ex = DelayReconstructionExplorer(backend="none", sweep_orders=[2, 4])
    assert np.isnan(ex.nrmse) and np.all(np.isnan(ex.sweep))
    assert "undefined" in ex.status.value and "#b00020" not in ex.status.value  # a note, no error
