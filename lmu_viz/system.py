"""The state-space matrices of the memory and their eigenvalues."""

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

import lmu

from ._base import Explorer, dropdown, float_slider, int_slider, slider_style

__all__ = ["SystemExplorer"]

_STABLE = "#1f77b4"
_LABELS = {"A": "A (1/s)", "B": "B (1/s)", "Ad": "Ā", "Bd": "B̄"}
_UNSTABLE = "#d62728"


class SystemExplorer(Explorer):
    """See ``A``, ``B`` and their discretization ``Ā``, ``B̄``, and where the poles lie.

    Left: the continuous matrices ``A`` (d × d) and ``B`` (d × 1) of
    :func:`lmu.legendre_system`, and the discrete ``Ā``, ``B̄`` of
    :func:`lmu.discretize` (zero-order hold or Euler, time step ``dt``), as
    images; each is divided by its largest absolute entry (given in its
    title) so that one colour scale serves all four. Right: the eigenvalues
    ``λ`` of ``A`` in the s-plane, drawn as ``λθ`` (the eigenvalues of
    ``θA``, which do not depend on ``θ``: ``A`` scales with ``1/θ``), and
    those of ``Ā`` in the z-plane with the unit circle
    (:func:`lmu.system_eigenvalues`); poles outside the circle are red and
    the status line explains the instability (for Euler, the largest stable
    step is :func:`lmu.euler_max_stable_dt`). The z-plane's range grows in
    steps of 2 when poles leave it.

    Parameters
    ----------
    order : int, default 6
        Memory order ``d`` (slider 1 to ``max_order``).
    theta : float, default 1.0
        Window ``θ`` in seconds (slider 0.1 to 10).
    dt : float, default 0.01
        Time step in seconds (log slider 1e-4 to 1).
    method : {"zoh", "euler"}
        Discretization.
    max_order : int, default 64
        Upper end of the ``d`` slider.
    backend : {"auto", "inline", "ipympl", "none"}
        How the figure is shown; see :class:`lmu_viz.Explorer`.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    widget : ipywidgets.VBox
    stable : bool
        Whether every discrete pole lies inside the unit circle.
    spectral_radius : float
        Largest modulus of the discrete poles.

    Examples
    --------
    >>> from lmu_viz import SystemExplorer
    >>> explorer = SystemExplorer(order=6, theta=1.0, dt=0.01, method="euler")
    >>> explorer                      # doctest: +SKIP  (shows the widget)
    >>> explorer.update(dt=0.2).stable   # Euler with too large a step
    False
    """

    _live_params = frozenset({"order", "theta", "dt"})
    _fast_params = frozenset({"dt", "method"})

    def __init__(self, order=6, theta=1.0, dt=0.01, method="zoh", max_order=64, backend="auto"):
        self.max_order = int(max_order)
        self.stable = True
        self.spectral_radius = float("nan")
        self._shown_order = None
        controls = {
            "order": int_slider("order d", order, 1, self.max_order),
            "theta": float_slider("window θ (s)", theta, 0.1, 10.0, 0.1),
            "dt": widgets.FloatLogSlider(
                value=dt, base=10, min=-4, max=0, step=0.05, description="time step dt (s)",
                continuous_update=False, readout_format=".2e", **slider_style(),
            ),
            "method": dropdown("discretization", ["zoh", "euler"], method),
        }
        super().__init__(controls, figsize=(7.2, 5.4), backend=backend)

    # -- view -------------------------------------------------------------------
    def _build(self):
        fig = self.figure
        grid = fig.add_gridspec(2, 3, width_ratios=[1, 0.12, 1.15])
        self.images = {}
        self.scale_texts = {}
        for row, (big, small) in enumerate([("A", "B"), ("Ad", "Bd")]):
            for col, name in enumerate((big, small)):
                ax = fig.add_subplot(grid[row, col])
                image = ax.imshow(
                    np.zeros((1, 1)), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest",
                    aspect="auto",
                )
                ax.set_xticks([])
                ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
                if col == 1 or row == 1:  # Ā, B̄: the rows of A above (a d change redraws no ticks)
                    ax.set_yticks([])
                if col == 0:
                    ax.set_ylabel("row i" if row == 0 else "row i (as in A)")
                self.images[name] = image
                # the title's first line is static; the scale on its second line changes
                ax.set_title(f"{_LABELS[name]}\n ", fontsize=9, y=1.0)
                self.scale_texts[name] = ax.text(
                    0.5, 1.0, "", transform=ax.title.get_transform(), ha="center",
                    va="baseline", fontsize=9,
                )
        self.colorbar = fig.colorbar(
            self.images["A"], ax=[self.images[n].axes for n in ("A", "B", "Ad", "Bd")],
            location="bottom", fraction=0.05, pad=0.02, shrink=0.9,
        )
        self.colorbar.set_label("entry / max |entry|")

        self.ax_s = fig.add_subplot(grid[0, 2])
        self.poles_s = self.ax_s.scatter([], [], s=22, marker="x", color=_STABLE)
        self.ax_s.axvline(0, color="0.6", lw=0.8)
        self.ax_s.axhline(0, color="0.6", lw=0.8)
        # λθ does not depend on θ (A = Ã/θ): only d changes this panel
        self.ax_s.set_xlabel("Re λθ")
        self.ax_s.set_ylabel("Im λθ")
        self.ax_s.set_title("eigenvalues λ of A, times θ", fontsize=10, y=1.0)

        self.ax_z = fig.add_subplot(grid[1, 2])
        circle = np.exp(1j * np.linspace(0, 2 * np.pi, 361))
        self.ax_z.plot(circle.real, circle.imag, color="0.5", lw=1.0, label="|z| = 1")
        self.poles_z = self.ax_z.scatter([], [], s=22, marker="x", color=_STABLE)
        self.ax_z.set_aspect("equal", adjustable="box")
        self.ax_z.set_xlabel("Re z")
        self.ax_z.set_ylabel("Im z")
        self.ax_z.set_title("eigenvalues of Ā\n ", fontsize=10, y=1.0)
        self.title_z = self.ax_z.text(
            0.5, 1.0, "", transform=self.ax_z.title.get_transform(), ha="center",
            va="baseline", fontsize=10,
        )

    def _layer(self, names):
        """The images, their titles (the scale) and their frames (drawn over the images)."""
        artists = []
        for name in names:
            ax = self.images[name].axes
            artists += [self.images[name], self.scale_texts[name], *ax.spines.values()]
        return artists

    def _fast_artists(self):
        return [*self._layer(("Ad", "Bd")), self.poles_z, self.title_z]

    def _data_artists(self):
        # A / max|A| and B / max|B| do not depend on θ; their titles (the scale) do
        return self._layer(("A", "B"))

    # -- model ------------------------------------------------------------------
    def _continuous(self, order, theta):
        """A, B and the eigenvalues λθ of Ã = θA (those of A at θ = 1)."""

        def compute():
            A, B = lmu.legendre_system(order, theta)
            scaled = self._cache.get(
                ("eigenvalues", order), lambda: lmu.system_eigenvalues(order, 1.0)
            )
            return A, B, scaled

        return self._cache.get(("continuous", order, float(theta)), compute)

    def _discrete(self, order, theta, dt, method):
        def compute():
            A, B, _ = self._continuous(order, theta)
            Ad, Bd = lmu.discretize(A, B, dt=dt, method=method)
            return Ad, Bd, lmu.system_eigenvalues(order, theta, dt=dt, method=method)

        return self._cache.get(("discrete", order, float(theta), float(dt), method), compute)

    def _compute(self, changed):
        p = self.params
        order, theta, dt, method = p["order"], p["theta"], p["dt"], p["method"]
        A, B, lam = self._continuous(order, theta)
        Ad, Bd, z = self._discrete(order, theta, dt, method)
        euler_dt = self._cache.get(
            ("euler dt", order, float(theta)), lambda: lmu.euler_max_stable_dt(order, theta)
        )
        radius = float(np.abs(z).max())
        return {
            "A": A, "B": B, "Ad": Ad, "Bd": Bd, "lam": lam, "z": z, "order": order,
            "theta": theta, "dt": dt, "method": method, "euler_dt": euler_dt,
            "radius": radius, "stable": radius < 1.0,
        }

    def _warnings(self, data):
        if data["stable"]:
            return []
        note = (
            f"{data['method'].upper()} at dt = {data['dt']:.3g} s makes the memory unstable "
            f"(largest |z| = {data['radius']:.4g} > 1): its state grows without bound."
        )
        if data["method"] == "euler":
            note += (
                f" For d = {data['order']}, θ = {data['theta']:g} s Euler is stable only for "
                f"dt < {data['euler_dt']:.3g} s; use a smaller dt or ZOH."
            )
        return [note]

    def _render(self, data):
        d = data["order"]
        if d != self._shown_order:  # new matrix sizes: new row ticks (only A has them)
            self._shown_order = d
            self._mark_dirty(self.images["A"].axes)
        for name in ("A", "B", "Ad", "Bd"):
            matrix = data[name]
            scale = float(np.abs(matrix).max()) or 1.0
            image = self.images[name]
            image.set_data(matrix / scale)
            image.set_extent((-0.5, matrix.shape[1] - 0.5, d - 0.5, -0.5))
            self.scale_texts[name].set_text(f"max |·| {scale:.3g}")
        lam, z = data["lam"], data["z"]  # lam: λθ
        modulus = np.abs(z)
        self.spectral_radius = data["radius"]
        self.stable = bool(data["stable"])
        self.poles_s.set_offsets(np.column_stack([lam.real, lam.imag]))
        self._set_limits(self.ax_s, *_fit(lam.real, lam.imag, include_origin=True))
        self.poles_z.set_offsets(np.column_stack([z.real, z.imag]))
        self.poles_z.set_color(np.where(modulus < 1.0, _STABLE, _UNSTABLE))
        # the z-plane grows in steps of 2, so that most changes of dt keep its ticks
        reach = 1.15 * 2.0 ** max(0, int(np.ceil(np.log2(1.05 * self.spectral_radius / 1.15))))
        self._set_limits(self.ax_z, xlim=(-reach, reach), ylim=(-reach, reach))
        verdict = "stable" if self.stable else "UNSTABLE"
        self.title_z.set_text(f"max |z| = {self.spectral_radius:.4f}: {verdict}")
        self.title_z.set_color("black" if self.stable else _UNSTABLE)


def _fit(x, y, include_origin=False):
    """(xlim, ylim) around the points with a 10% margin."""
    xs = np.append(x, 0.0) if include_origin else np.asarray(x)
    ys = np.append(y, 0.0) if include_origin else np.asarray(y)
    span = max(np.ptp(xs), np.ptp(ys), 1e-12)
    pad = 0.1 * span
    return (xs.min() - pad, xs.max() + pad), (ys.min() - pad, ys.max() + pad)
