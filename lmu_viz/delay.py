"""Decoding a delayed input from the memory, with its error."""

import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import LogLocator, NullFormatter, NullLocator
from matplotlib.transforms import blended_transform_factory

import lmu
from lmu.signals import SIGNAL_KINDS

from ._base import Explorer, dropdown, float_slider, int_slider, slider_style

__all__ = ["DelayReconstructionExplorer", "SWEEP_ORDERS"]

#: Orders at which the NRMSE-against-d panel computes the error.
SWEEP_ORDERS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
#: The views of the error panel (values of the ``panel`` control).
PANELS = ("NRMSE against d", "error against θ·f")
#: θ·f (cycles per window) at which the error-against-θ·f panel evaluates a sinusoid.
THETA_FREQS = tuple(np.round(np.geomspace(0.05, 20.0, 32), 4))
#: y range of the error panel (fixed, so that changes never redraw its ticks);
#: smaller errors leave the panel at the bottom.
ERROR_RANGE = (1e-8, 3.0)


class _SignalMixin:
    """Test signal and simulated memory, both cached on their parameters."""

    def _theta_slider(self, theta):
        return float_slider("window θ (s)", theta, 0.1, self.duration / 2, 0.05)

    def _signal(self, kind, cutoff, seed):
        key = ("signal", kind, float(cutoff), int(seed), self.steps, self.dt)
        return self._cache.get(
            key, lambda: lmu.make_signal(kind, self.steps, dt=self.dt, cutoff=cutoff, seed=seed)
        )

    def _memory(self, kind, cutoff, seed, order, theta):
        """States m, shape (steps, order), from :func:`lmu.simulate_memory`."""
        key = ("memory", kind, float(cutoff), int(seed), self.steps, self.dt, int(order), float(theta))
        u = self._signal(kind, cutoff, seed)
        return self._cache.get(key, lambda: lmu.simulate_memory(u, order, theta, self.dt))


class DelayReconstructionExplorer(_SignalMixin, Explorer):
    """Decode the delayed input ``u(t − θ′)`` from the memory and see the error.

    Top panel: the input ``u(t)``, the true delayed input ``u(t − θ′)``
    (:func:`lmu.delayed`) and the memory's estimate ``P̃(θ′/θ) · m(t)``, with
    the NRMSE (:func:`lmu.nrmse`) over ``t ≥ θ`` (once the window is full).
    Changing ``θ′`` only re-decodes the cached memory; ``θ``, ``d`` and the
    signal re-simulate it (:func:`lmu.simulate_memory`).

    Bottom panel, one of two views (the ``panel`` control):

    * ``"NRMSE against d"`` — the *steady-state* NRMSE of the same signal,
      ``θ`` and ``θ′`` at the orders of ``sweep_orders``
      (:func:`lmu.steady_state_nrmse`: the continuous memory in the frequency
      domain, the signal taken as periodic, so no start-up and no sampling
      error), with the current ``d`` circled and the NRMSE measured in the
      top panel marked beside it. Where the two differ, the top panel's
      NRMSE (from ``t = θ`` on) also holds the memory's start-up transient
      and the error of sampling (zero-order hold), which the steady state
      leaves out.
    * ``"error against θ·f"`` — the error of the decoded delay for a sinusoid
      of frequency ``f`` against ``θ·f`` (:func:`lmu.delay_error`), at the
      current ``d`` and ``θ′``; the current ``θ`` times the signal's cut-off
      (or event rate) is marked.

    Parameters
    ----------
    theta : float, default 1.0
        Window ``θ`` in seconds (slider 0.1 to ``duration / 2``).
    order : int, default 6
        Memory order ``d`` (slider 1 to ``max_order``).
    delay : float, default 1.0
        Decoded delay as a fraction ``θ′/θ`` in [0, 1] (dimensionless).
    cutoff : float, default 1.0
        Cut-off frequency of the noise and the sines, or event rate of the
        steps and spikes, in Hz (log slider 0.2 to 20).
    seed : int, default 0
        Seed of the test signal.
    signal : {"noise", "sines", "steps", "spikes"}
        Test signal (:func:`lmu.make_signal`).
    duration : float, default 10.0
        Length of the input in seconds.
    steps : int, default 2000
        Number of samples (``dt = duration / steps``).
    max_order : int, default 64
        Upper end of the ``d`` slider.
    sweep_orders : sequence of int, optional
        Orders of the NRMSE-against-d panel (default :data:`SWEEP_ORDERS` up
        to ``max_order``); an empty sequence leaves the panel empty.
    panel : {"NRMSE against d", "error against θ·f"}
        The view of the error panel (see above).
    backend : {"auto", "inline", "ipympl", "none"}
        How the figure is shown; see :class:`lmu_viz.Explorer`.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    widget : ipywidgets.VBox
    nrmse : float
        The NRMSE shown (nan when it is undefined).
    sweep : ndarray
        The steady-state NRMSE at ``sweep_orders`` (empty in the θ·f view).

    Examples
    --------
    >>> from lmu_viz import DelayReconstructionExplorer
    >>> explorer = DelayReconstructionExplorer(theta=1.0, order=6, delay=0.5)
    >>> explorer                      # doctest: +SKIP  (shows the widget)
    >>> round(explorer.update(order=12).nrmse, 4)   # doctest: +SKIP
    """

    _live_params = frozenset({"delay"})
    _fast_params = frozenset({"delay"})

    def __init__(
        self, theta=1.0, order=6, delay=1.0, cutoff=1.0, seed=0, signal="noise",
        duration=10.0, steps=2000, max_order=64, sweep_orders=None,
        panel="NRMSE against d", backend="auto",
    ):
        self.steps = int(steps)
        self.duration = float(duration)
        if self.steps < 10 or not self.duration > 0:
            raise ValueError("steps must be >= 10 and duration > 0")
        self.dt = self.duration / self.steps
        self.max_order = int(max_order)
        if sweep_orders is None:
            sweep_orders = [d for d in SWEEP_ORDERS if d <= self.max_order]
        self.sweep_orders = tuple(sorted({int(d) for d in sweep_orders if 1 <= d <= self.max_order}))
        self.nrmse = float("nan")
        self.sweep = np.array([])
        self._panel_shown = None
        nyquist = 0.5 / self.dt
        controls = {
            "theta": self._theta_slider(theta),
            "order": int_slider("order d", order, 1, self.max_order),
            "delay": float_slider("delay θ′/θ", delay, 0.0, 1.0, 0.01),
            "cutoff": widgets.FloatLogSlider(
                value=cutoff, base=10, min=np.log10(0.2), max=np.log10(min(20.0, 0.4 * nyquist)),
                step=0.05, description="cut-off / rate (Hz)", continuous_update=False,
                **slider_style(),
            ),
            "seed": int_slider("seed", seed, 0, 99),
            "signal": dropdown("signal", SIGNAL_KINDS, signal),
            "panel": dropdown("error panel", PANELS, panel),
        }
        super().__init__(controls, figsize=(7.2, 5.6), backend=backend)

    # -- view -------------------------------------------------------------------
    def _build(self):
        fig = self.figure
        grid = fig.add_gridspec(2, 1, height_ratios=[1.7, 1])
        ax = fig.add_subplot(grid[0])
        self.ax_time = ax
        t = np.arange(self.steps) * self.dt
        self.t = t
        (self.input_line,) = ax.plot(t, np.zeros_like(t), color="0.65", lw=1.0, label="input u(t)")
        (self.target_line,) = ax.plot(
            t, np.zeros_like(t), color="black", lw=1.4, ls="--", label="true u(t − θ′)"
        )
        (self.estimate_line,) = ax.plot(
            t, np.zeros_like(t), color="#1f77b4", lw=1.6, label="decoded from m(t)"
        )
        self.filling = Rectangle(
            (0, 0), 1.0, 1, transform=blended_transform_factory(ax.transData, ax.transAxes),
            facecolor="0.92", edgecolor="none", zorder=0, label="window filling (t < θ)",
        )
        ax.add_patch(self.filling)
        ax.set_xlim(0, self.duration)
        ax.set_xlabel("time t (s)")
        ax.set_ylabel("signal (a.u.)")
        ax.legend(loc="upper right", fontsize=8, ncol=2, framealpha=1.0, fancybox=False)
        self.title = ax.set_title("", y=1.0)  # a fixed position: no costly placement at each draw

        ax2 = fig.add_subplot(grid[1])
        self.ax_sweep = ax2
        (self.sweep_line,) = ax2.plot([], [], "o-", color="0.35", ms=4, lw=1.2, label="")
        (self.current_marker,) = ax2.plot(
            [], [], "o", ms=10, mfc="none", mec="#d62728", mew=2, label="current setting"
        )
        (self.measured_marker,) = ax2.plot(
            [], [], "x", ms=8, color="#1f77b4", mew=2, label="measured above (t ≥ θ)"
        )
        ax2.set_yscale("log")
        ax2.set_ylim(*ERROR_RANGE)
        ax2.yaxis.set_major_locator(LogLocator(numticks=6))
        ax2.yaxis.set_minor_locator(NullLocator())  # fewer ticks: cheaper to draw
        ax2.yaxis.set_minor_formatter(NullFormatter())
        ax2.grid(True, which="major", alpha=0.3)
        self.sweep_title = ax2.set_title("", fontsize=10, y=1.0)

    def _show_panel(self, panel):
        """Axes, labels and legend of one view of the error panel (redraws that axes)."""
        ax = self.ax_sweep
        if panel == PANELS[0]:
            ax.set_xscale("linear")
            ax.set_xlim(0, self.max_order + 1)
            ax.set_xlabel("order d")
            ax.set_ylabel("NRMSE")
            self.sweep_line.set_label("steady state (frequency domain)")
            self.sweep_title.set_text("NRMSE against the order (same signal, θ and θ′)")
        else:
            ax.set_xscale("log")
            ax.set_xlim(THETA_FREQS[0], THETA_FREQS[-1])
            ax.set_xlabel("θ·f (cycles per window)")
            ax.set_ylabel("error |H − e^(−iωθ′)|")
            self.sweep_line.set_label("sinusoid of frequency f (same d and θ′)")
            self.sweep_title.set_text("Error of the decoded delay against θ·f")
        self.measured_marker.set_visible(panel == PANELS[0])
        handles = [self.sweep_line, self.current_marker] + (
            [self.measured_marker] if panel == PANELS[0] else []
        )
        legend = ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=1.0, fancybox=False)
        if self._fast:  # after _start: the new legend joins the fast layer
            legend.set_animated(True)
            self._fast = [a for a in self._fast if a is not self._legend2] + [legend]
        self._legend2 = legend
        self._panel_shown = panel
        self._mark_dirty(ax)

    def _fast_artists(self):
        return [
            self.estimate_line, self.target_line, self.title, self.sweep_line,
            self.current_marker, self.measured_marker, self.ax_time.get_legend(),
            self.ax_sweep.get_legend(),
        ]

    def _data_artists(self):
        # the window patch covers the input line and the frame: all three are redrawn
        return [self.filling, self.input_line, *self.ax_time.spines.values()]

    # -- model ------------------------------------------------------------------
    def _nrmse(self, estimate, target, theta):
        """NRMSE over t >= theta (nan if the target is zero there)."""
        start = int(np.ceil(theta / self.dt))
        try:
            return float(lmu.nrmse(estimate[start:], target[start:]))
        except ValueError:  # the target is zero after the window filled
            return float("nan")

    def _compute(self, changed):
        p = self.params
        kind, cutoff, seed = p["signal"], p["cutoff"], p["seed"]
        theta, order, r, panel = p["theta"], p["order"], p["delay"], p["panel"]
        u = self._signal(kind, cutoff, seed)
        target = lmu.delayed(u, r * theta, self.dt)
        readout = self._cache.get(
            ("readout", self.max_order, r), lambda: lmu.legendre_decoders(self.max_order, [r])[0]
        )  # P~_i(r) for i < max_order; the first d entries are the order-d readout
        m = self._memory(kind, cutoff, seed, order, theta)
        estimate = m @ readout[:order]
        data = {
            "u": u, "estimate": estimate, "target": target, "theta": theta, "order": order,
            "delay": r, "nrmse": self._nrmse(estimate, target, theta), "panel": panel,
        }
        if panel == PANELS[0]:
            sweep_orders = self.sweep_orders
            key = ("steady state", kind, float(cutoff), int(seed), float(theta), r, self.sweep_orders)
            orders = sorted(set(self.sweep_orders) | {order})

            def steady():
                if not np.any(u):  # no events in the shown time: the NRMSE is undefined
                    return dict.fromkeys(orders, float("nan"))
                values = lmu.steady_state_nrmse(u, orders, theta, self.dt, r)
                return dict(zip(orders, np.atleast_1d(values)))

            errors = self._cache.get(key + (order,), steady)
            data["x"] = np.array(sweep_orders, dtype=float)
            data["y"] = np.array([errors[d] for d in sweep_orders])
            data["marker"] = (order, errors[order])
        else:
            curve = self._cache.get(
                ("theta f", order, r), lambda: lmu.delay_error(order, THETA_FREQS, r)
            )
            at = theta * cutoff
            data["x"], data["y"] = np.array(THETA_FREQS), curve
            data["marker"] = (at, float(lmu.delay_error(order, at, r)))
        return data

    def _warnings(self, data):
        notes = []
        if not np.isfinite(data["nrmse"]):
            notes.append(
                "the delayed input is zero everywhere after the window filled, so the NRMSE "
                "is undefined: try another seed or a higher rate"
            )
        steps_per_window = data["theta"] / self.dt
        if data["order"] > steps_per_window:
            notes.append(
                f"d = {data['order']} exceeds the {steps_per_window:.0f} samples in the window"
            )
        return notes

    def _render(self, data):
        self.nrmse = data["nrmse"]
        u, estimate, target = data["u"], data["estimate"], data["target"]
        self.input_line.set_ydata(u)
        self.target_line.set_ydata(target)
        self.estimate_line.set_ydata(estimate)
        self.filling.set_width(data["theta"])
        lo, hi = min(u.min(), 0.0), max(u.max(), 0.0)
        pad = 0.12 * (hi - lo) if hi > lo else 1.0
        self._set_limits(self.ax_time, ylim=(lo - pad, hi + 2.5 * pad))
        shown = f"{100 * self.nrmse:.3g}%" if np.isfinite(self.nrmse) else "undefined"
        self.title.set_text(
            f"θ = {data['theta']:g} s, d = {data['order']}, θ′/θ = {data['delay']:.2f}: "
            f"NRMSE = {shown}"
        )
        if data["panel"] != self._panel_shown:
            self._show_panel(data["panel"])
        self.sweep = data["y"] if data["panel"] == PANELS[0] else np.array([])
        self.sweep_line.set_data(data["x"], data["y"])
        self.current_marker.set_data(*[[v] for v in data["marker"]])
        self.measured_marker.set_data([data["order"]], [self.nrmse])
