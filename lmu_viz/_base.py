"""The controller shared by every explorer: controls, figure, status line, caching.

An explorer owns

* ``controls`` — ipywidgets (sliders, dropdowns) wired with ``observe``;
* ``figure`` — one matplotlib :class:`~matplotlib.figure.Figure` whose artists
  are created once and afterwards only updated in place;
* ``status`` — an :class:`ipywidgets.HTML` line that explains invalid settings
  and reports the errors of :mod:`lmu` instead of raising them;
* ``widget`` — the displayable :class:`ipywidgets.VBox` of all three.

Subclasses implement ``_build()`` (create the axes and artists, once),
``_compute(changed)`` (the model: numbers from :mod:`lmu`, only what
``changed`` invalidates) and ``_render(data)`` (the view: update the artists
in place). The figure is shown either through ipympl (its canvas is a widget)
or, with the inline backend, as a PNG inside an :class:`ipywidgets.Output`, so
that a notebook saved with its widget state shows the figure statically.
"""

import base64
import html
import io
import time
from collections import OrderedDict

import ipywidgets as widgets
import matplotlib
import numpy as np
import PIL.Image

import lmu
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend

__all__ = ["Explorer", "BACKENDS"]

BACKENDS = ("auto", "inline", "ipympl", "none")

#: Width of a figure in inches; at the figure's 100 dpi it fills ~700 px.
FIG_WIDTH = 7.2
DPI = 100

#: Colour ramp for indexed families (Legendre polynomials, memory dimensions).
RAMP = "viridis"


def _ipympl_active():
    backend = matplotlib.get_backend().lower()
    return "ipympl" in backend or backend.endswith("widget")


def _resolve_backend(backend):
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "ipympl" if _ipympl_active() else "inline"
    if backend == "ipympl":
        try:
            import ipympl  # noqa: F401
        except ImportError:
            raise ValueError(
                "backend='ipympl' needs the ipympl package (pip install ipympl); "
                "use backend='inline'"
            ) from None
    return backend


class _Cache:
    """A small least-recently-used cache keyed on parameter tuples."""

    def __init__(self, maxsize=16):
        self.maxsize = maxsize
        self._data = OrderedDict()

    def get(self, key, compute):
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = compute()
        self._data[key] = value
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)
        return value

    def clear(self):
        self._data.clear()

    def __len__(self):
        return len(self._data)


class Explorer:
    """Base class of the explorers (controller of one figure and its controls).

    Parameters
    ----------
    controls : dict of str to ipywidgets.ValueWidget
        The controls, by parameter name; their values are the parameters.
    figsize : tuple of float
        Figure size in inches (width, height).
    backend : {"auto", "inline", "ipympl", "none"}
        How the figure is shown: ``"inline"`` renders a PNG into an
        ``ipywidgets.Output`` after each change; ``"ipympl"`` uses the
        interactive canvas widget (needs ``ipympl``); ``"none"`` only draws
        the Agg canvas (tests, benchmarks); ``"auto"`` picks ``"ipympl"``
        when it is the active matplotlib backend, else ``"inline"``.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    controls : dict of str to ipywidgets.ValueWidget
    status : ipywidgets.HTML
        Explanation of invalid settings or errors; empty when all is well.
    widget : ipywidgets.VBox
        The whole explorer, ready for ``display``.
    timings : dict
        Seconds spent in the last update: ``"compute"`` (numbers from
        :mod:`lmu`), ``"render"`` (artists updated) and ``"draw"`` (Agg canvas
        drawn, or only the changed artists blitted, plus the PNG for the
        inline backend), wall-clock.
    cpu_timings : dict
        The same phases in CPU time of this process (less sensitive to other
        load on the machine).
    last_redraw : {"full", "axes", "data", "blit"}
        How the last update was drawn: ``"full"``, the whole figure;
        ``"axes"``, only the axes whose ticks or labels changed, then the
        layers below; ``"data"``, the data and fast layers over the kept
        static background; ``"blit"``, only the fast layer.

    Notes
    -----
    The figure is drawn in three layers, so that an update redraws only what
    it changed. The *static* layer (frames, ticks, labels: all text that
    depends only on the axes limits) is kept as a pixel buffer after a draw;
    the *data* layer (``_data_artists()``: curves, images, patches that
    change with the parameters) is drawn over it and the result is kept too;
    the *fast* layer (``_fast_artists()``: what ``_fast_params`` change) is
    drawn last. When an update changes an axes' limits or tick labels
    (``_set_limits``, ``_mark_dirty``), only that axes is cleared and redrawn
    inside its own cell of the figure. Saved figures (``savefig``) draw every
    artist in the usual z-order.
    """

    #: Controls cheap enough to follow a drag (continuous_update) when the
    #: figure is an ipympl canvas, which coalesces draws; with the inline
    #: backend every value is a new PNG, so they update on release.
    _live_params = frozenset()
    #: Parameters whose change touches only ``_fast_artists()`` (redrawn by blitting).
    _fast_params = frozenset()
    #: Pixels by which an axes' cell (the region cleared to redraw it) may
    #: extend beyond its tight bounding box, at most half-way to a neighbour.
    _cell_margin = 14

    def __init__(self, controls, figsize, backend="auto"):
        self.backend = _resolve_backend(backend)
        self.controls = dict(controls)
        self.status = widgets.HTML(value="", layout=widgets.Layout(min_height="1.6em"))
        self.timings = {"compute": 0.0, "render": 0.0, "draw": 0.0}
        self.cpu_timings = dict(self.timings)
        self._cache = _Cache(maxsize=48)
        self._batch = False
        self._png = None
        self._fast = []
        self._data = []
        self._static = None  # static layer (pixels), kept after each draw
        self._background = None  # static + data layers (pixels)
        self._blank = None  # the empty figure (pixels), to clear an axes' cell
        self._cells = None  # axes -> (x0, y0, x1, y1), display pixels
        self._boxes = {}  # axes -> its tight bounding box, display pixels
        self._stamps = {}  # id(legend) -> (legend, pixels, box): see _stamp
        self._dirty = set()  # axes whose ticks/labels must be redrawn
        self._full_redraw = True
        self._data_stale = True
        self.last_redraw = None
        if self.backend == "ipympl":
            import matplotlib.pyplot as plt

            with plt.ioff():
                self.figure = plt.figure(figsize=figsize, dpi=DPI, layout="constrained")
            canvas = self.figure.canvas
            canvas.header_visible = False
            canvas.toolbar_position = "right"
            self._view = canvas
        else:
            self.figure = Figure(figsize=figsize, dpi=DPI, layout="constrained")
            FigureCanvasAgg(self.figure)
            self._view = widgets.Output(layout=widgets.Layout(min_height="%dpx" % (figsize[1] * DPI)))
        self.figure.get_layout_engine().set(w_pad=0.09, h_pad=0.05)
        for name in self._live_params:
            self.controls[name].continuous_update = self.backend == "ipympl"
        self._names = {id(w): name for name, w in self.controls.items()}
        for widget in self.controls.values():
            widget.observe(self._on_control, names="value")
        self.widget = widgets.VBox(
            [self._control_box(), self._view, self.status],
            layout=widgets.Layout(width="100%", max_width="760px"),
        )
        self._build()
        self._start()

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- layout ---------------------------------------------------------------
    def _control_box(self):
        items = list(self.controls.values())
        rows = [widgets.HBox(items[i : i + 2]) for i in range(0, len(items), 2)]
        return widgets.VBox(rows)

    # -- public API -----------------------------------------------------------
    @property
    def params(self):
        """The current parameters, a dict of name to value."""
        return {name: w.value for name, w in self.controls.items()}

    def update(self, **params):
        """Change parameters and redraw once, exactly as moving the controls would.

        Parameters
        ----------
        **params
            New values by parameter name (the names of ``controls``). A value
            outside a control's range is clipped to it and the status line
            says so; a value of the wrong type is refused with a message in
            the status line. Nothing is raised for bad values.

        Returns
        -------
        self

        Raises
        ------
        TypeError
            For a parameter name that this explorer does not have.
        """
        unknown = sorted(set(params) - set(self.controls))
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.update() got unknown parameter(s) {unknown}; "
                f"valid names: {sorted(self.controls)}"
            )
        notes = []
        changed = set()
        self._batch = True
        try:
            for name, value in params.items():
                control = self.controls[name]
                value, note = self._coerce(name, control, value)
                if note:
                    notes.append(note)
                if value is not None and value != control.value:
                    control.value = value
                    changed.add(name)
        finally:
            self._batch = False
        if changed:
            self._apply(changed, notes)
        elif notes:
            self._set_status(notes)
        return self

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        if self._png is not None and "image/png" not in bundle:
            # a static fallback for renderers without widget support
            bundle["image/png"] = base64.b64encode(self._png).decode("ascii")
        return bundle

    # -- controller -------------------------------------------------------------
    def _coerce(self, name, control, value):
        """Return (value to set or None, note) for a requested control value."""
        options = getattr(control, "options", None)
        if options is not None:
            labels = [o[1] if isinstance(o, tuple) else o for o in options]
            if value not in labels:
                return None, f"{name}={value!r} is not one of {labels}; kept {control.value!r}"
            return value, ""
        if isinstance(control, widgets.Checkbox):
            return bool(value), ""
        integer = isinstance(control, (widgets.IntSlider, widgets.BoundedIntText))
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None, f"{name}={value!r} is not a number; kept {control.value!r}"
        if number != number or number in (float("inf"), float("-inf")):
            return None, f"{name}={value!r} is not finite; kept {control.value!r}"
        if integer and not number.is_integer():
            return None, f"{name}={value!r} must be a whole number; kept {control.value!r}"
        lo, hi = self._bounds(control)
        clipped = min(max(number, lo), hi)
        note = ""
        if clipped != number:
            note = f"{name}={value!r} is outside [{lo:g}, {hi:g}]; using {clipped:g}"
        return (int(clipped) if integer else clipped), note

    @staticmethod
    def _bounds(control):
        if isinstance(control, widgets.FloatLogSlider):
            return control.base**control.min, control.base**control.max
        return control.min, control.max

    def _on_control(self, change):
        if self._batch:
            return
        self._apply({self._names[id(change["owner"])]}, [])

    def _apply(self, changed, notes):
        """Recompute what ``changed`` invalidates, update the artists, redraw."""
        clock = [(time.perf_counter(), time.process_time())]
        self._full_redraw = not changed
        self._data_stale = not (changed and changed <= self._fast_params)
        self._dirty = set()
        try:
            data = self._compute(changed)
        except ValueError as exc:  # an lmu argument check: explain, keep the old view
            clock += [(time.perf_counter(), time.process_time())] * 3
            self._set_timings(clock)
            self._set_status(notes + [str(exc)], error=True)
            return
        clock.append((time.perf_counter(), time.process_time()))
        self._render(data)
        clock.append((time.perf_counter(), time.process_time()))
        self._redraw()
        clock.append((time.perf_counter(), time.process_time()))
        self._set_timings(clock)
        self._set_status(notes + self._warnings(data))

    def _set_timings(self, clock):
        phases = ("compute", "render", "draw")
        self.timings = {p: clock[i + 1][0] - clock[i][0] for i, p in enumerate(phases)}
        self.cpu_timings = {p: clock[i + 1][1] - clock[i][1] for i, p in enumerate(phases)}

    def _warnings(self, data):
        """Messages about the current (valid) setting; subclasses extend."""
        return []

    def _set_status(self, messages, error=False):
        if not messages:
            self.status.value = ""
            return
        colour = "#b00020" if error else "#8a5a00"
        items = "<br>".join(html.escape(m) for m in messages)
        self.status.value = f'<span style="color:{colour}">&#9888; {items}</span>'

    def _basis_grid(self, order, n_points):
        """(r, P): ``n_points`` delays ``θ′/θ`` in [0, 1] and ``P = legendre_decoders(order, r)``.

        Computed once per explorer; the basis of a lower order ``d`` is
        ``P[:, :d]`` (``P̃_i`` does not depend on ``d``).
        """

        def compute():
            r = np.linspace(0.0, 1.0, n_points)
            return r, lmu.legendre_decoders(order, r)

        return self._cache.get(("basis grid", order, n_points), compute)

    def _set_limits(self, ax, xlim=None, ylim=None):
        """Set axis limits; a real change redraws that axes (new ticks)."""
        for value, get, set_, shared in (
            (xlim, ax.get_xlim, ax.set_xlim, ax.get_shared_x_axes()),
            (ylim, ax.get_ylim, ax.set_ylim, ax.get_shared_y_axes()),
        ):
            if value is not None and not np.allclose(get(), value, rtol=1e-9, atol=0):
                set_(*value)
                self._mark_dirty(*shared.get_siblings(ax))  # shared axes change together

    def _mark_dirty(self, *axes):
        """Redraw these axes' static layer (ticks, labels, titles) on the next update."""
        self._dirty.update(axes)

    def _draw_layer(self, artists):
        for artist in artists:
            if isinstance(artist, Legend) and artist.get_frame().get_alpha() == 1.0:
                self._stamp(artist)
            else:
                self.figure.draw_artist(artist)

    def _stamp(self, legend):
        """Draw an opaque legend from its pixels kept at its first drawing.

        An opaque, square legend covers whatever lies beneath it, so its pixels
        never change; copying them is much cheaper than drawing its text again.
        """
        canvas = self.figure.canvas
        kept = self._stamps.get(id(legend))
        if kept is not None and kept[0] is legend:
            _, region, box = kept
            canvas.restore_region(region, bbox=box, xy=(0, 0))  # xy: where the region goes
            return
        self.figure.draw_artist(legend)
        x0, y0, x1, y1 = legend.get_window_extent(canvas.get_renderer()).extents
        height = int(self.figure.bbox.height)
        box = (int(np.floor(x0)), height - int(np.ceil(y1)), int(np.ceil(x1)), height - int(np.floor(y0)))
        region = canvas.copy_from_bbox(self.figure.bbox)
        # forget legends that were replaced (a new view of a panel)
        self._stamps = {k: v for k, v in self._stamps.items() if v[0] in self._fast}
        self._stamps[id(legend)] = (legend, region, box)

    def _on_draw(self, event):
        """After every full draw: keep the static layer, then add the other layers."""
        canvas = self.figure.canvas
        if canvas.is_saving():  # savefig draws everything; its buffer is no background
            self._static = self._background = None
            return
        self._static = canvas.copy_from_bbox(self.figure.bbox)
        renderer = canvas.get_renderer()
        if self._blank is None:
            renderer.clear()
            self.figure.patch.draw(renderer)
            self._blank = canvas.copy_from_bbox(self.figure.bbox)
            canvas.restore_region(self._static)
        if self._cells is None:
            self._cells = self._layout_cells(renderer)
        self._draw_layer(self._data)
        self._background = canvas.copy_from_bbox(self.figure.bbox)
        self._draw_layer(self._fast)

    def _layout_cells(self, renderer):
        """The region of the figure that belongs to each axes (display pixels).

        An axes' tight bounding box of its static layer (frame, ticks,
        labels), widened by up to ``_cell_margin`` pixels on each side but at
        most half-way to the box of a neighbour (or, where two boxes overlap,
        cut at the middle of the overlap), so that cells do not overlap and a
        tick label that grows a little stays inside its cell.
        """
        width, height = self.figure.bbox.width, self.figure.bbox.height
        hidden = [a for a in self._data + self._fast if a.get_visible()]
        titles = {ax.title: ax.title.get_position() for ax in self.figure.axes}
        for artist in hidden:  # only the static layer is redrawn inside a cell
            artist.set_visible(False)
        try:
            boxes = {
                ax: ax.get_tightbbox(renderer).extents for ax in self.figure.axes if ax.get_visible()
            }
        finally:
            for artist in hidden:
                artist.set_visible(True)
            for title, position in titles.items():  # get_tightbbox moves hidden titles
                title.set_position(position)
        cells = {}
        for ax, (x0, y0, x1, y1) in boxes.items():
            left, right, down, up = x0, width - x1, y0, height - y1  # room to the edges
            for other, (a0, b0, a1, b1) in boxes.items():
                if other is ax:
                    continue
                gap_x = max(a0 - x1, x0 - a1)  # negative where the boxes overlap
                gap_y = max(b0 - y1, y0 - b1)
                if gap_x >= gap_y:  # side by side: meet half-way (inside an overlap)
                    if a0 + a1 < x0 + x1:
                        left = min(left, (x0 - a1) / 2)
                    else:
                        right = min(right, (a0 - x1) / 2)
                else:  # one above the other
                    if b0 + b1 < y0 + y1:
                        down = min(down, (y0 - b1) / 2)
                    else:
                        up = min(up, (b0 - y1) / 2)
            m = self._cell_margin
            cells[ax] = (
                max(0, int(round(x0 - min(m, left)))),
                max(0, int(round(y0 - min(m, down)))),
                min(int(width), int(round(x1 + min(m, right)))),
                min(int(height), int(round(y1 + min(m, up)))),
            )
        self._boxes = {
            ax: (int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1)))
            for ax, (x0, y0, x1, y1) in boxes.items()
        }
        return cells

    def _redraw_axes(self, dirty):
        """Clear the cells of ``dirty`` axes in the static layer and draw them again.

        Axes whose cells overlap a cleared cell are redrawn as well. Leaves the
        new static layer in the canvas and keeps it.
        """
        canvas = self.figure.canvas
        canvas.restore_region(self._static)
        cells = self._cells
        todo = {ax for ax in dirty if ax in cells}
        grown = True
        while grown:
            grown = False
            for ax, (x0, y0, x1, y1) in cells.items():
                if ax in todo:
                    continue
                if any(x0 < c[2] and c[0] < x1 and y0 < c[3] and c[1] < y1 for c in (cells[t] for t in todo)):
                    todo.add(ax)
                    grown = True
        height = int(self.figure.bbox.height)

        def put(region, x0, y0, x1, y1):  # buffer regions count rows from the top
            canvas.restore_region(region, bbox=(x0, height - y1, x1, height - y0), xy=(0, 0))

        for ax in todo:
            put(self._blank, *cells[ax])
        # where a neighbour's ticks or labels reach into a cleared cell, keep them
        for ax in todo:
            x0, y0, x1, y1 = cells[ax]
            for other, (a0, b0, a1, b1) in self._boxes.items():
                if other not in todo and a0 < x1 and x0 < a1 and b0 < y1 and y0 < b1:
                    put(self._static, max(x0, a0), max(y0, b0), min(x1, a1), min(y1, b1))
        renderer = canvas.get_renderer()
        for ax in sorted(todo, key=lambda a: a.get_zorder()):
            ax.draw(renderer)
        self._static = canvas.copy_from_bbox(self.figure.bbox)

    def _redraw(self):
        """Redraw what changed: the whole figure, some axes, the data layer or the fast layer."""
        canvas = self.figure.canvas
        if self._full_redraw or self._static is None:
            kind = "full"
        elif self._dirty:
            kind = "axes"
        elif self._data_stale:
            kind = "data"
        else:
            kind = "blit"
        self.last_redraw = kind
        if kind == "full":
            if self.backend == "ipympl":  # the frontend draws soon; _on_draw keeps the layers
                self._static = self._background = None
                canvas.draw_idle()
                return
            canvas.draw()  # calls _on_draw
        else:
            if kind == "axes":
                self._redraw_axes(self._dirty)
            if kind == "blit":
                canvas.restore_region(self._background)
            else:
                if kind == "data":
                    canvas.restore_region(self._static)
                self._draw_layer(self._data)
                self._background = canvas.copy_from_bbox(self.figure.bbox)
            self._draw_layer(self._fast)
            if self.backend == "ipympl":
                canvas.blit(self.figure.bbox)
                return
        if self.backend == "inline":
            self._show_png()

    def _show_png(self):
        """Encode the Agg buffer as PNG and show it in the Output widget."""
        canvas = self.figure.canvas
        width, height = canvas.get_width_height(physical=True)
        image = PIL.Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="png", compress_level=1)
        self._png = buffer.getvalue()
        self._view.outputs = (
            {
                "output_type": "display_data",
                "data": {
                    "image/png": base64.b64encode(self._png).decode("ascii"),
                    "text/plain": f"<{type(self).__name__} figure>",
                },
                "metadata": {},
            },
        )

    def _start(self):
        """First computation and drawing; subclasses call it at the end of __init__.

        The layout is computed once (constrained layout, with room to spare for
        wider tick labels) on this first draw and then kept fixed, so later
        updates do not pay for it. The artists of ``_fast_artists()`` and
        ``_data_artists()`` are made animated (left out of the static layer);
        see the Notes of :class:`Explorer` for the layers.
        """
        try:
            self._render(self._compute(set(self.controls)))
        except ValueError:
            pass  # _apply below reports it in the status line
        self.figure.canvas.draw()
        self.figure.set_layout_engine("none")
        self._fast = sorted(self._fast_artists(), key=lambda a: a.get_zorder())
        self._data = sorted(self._data_artists(), key=lambda a: a.get_zorder())
        for artist in self._fast + self._data:
            artist.set_animated(True)
        self.figure.canvas.mpl_connect("draw_event", self._on_draw)
        self._apply(set(), [])

    def _fast_artists(self):
        """Artists that the parameters of ``_fast_params`` change (and only those)."""
        return []

    def _data_artists(self):
        """Artists that the other parameters change, drawn over the static layer.

        Everything else is static: a change to it must go through
        ``_set_limits`` or ``_mark_dirty`` (its axes is redrawn).
        """
        return []

    # -- to implement -------------------------------------------------------------
    def _build(self):  # pragma: no cover - abstract
        """Create the axes and every artist (empty); called once."""
        raise NotImplementedError

    def _compute(self, changed):  # pragma: no cover - abstract
        raise NotImplementedError

    def _render(self, data):  # pragma: no cover - abstract
        raise NotImplementedError


def slider_style():
    """Keyword arguments shared by every control (full-width descriptions)."""
    return {"style": {"description_width": "initial"}, "layout": widgets.Layout(width="49%")}


def int_slider(description, value, low, high):
    """An integer slider that updates on release (see ``Explorer._live_params``)."""
    return widgets.IntSlider(
        value=value, min=low, max=high, description=description, continuous_update=False,
        **slider_style(),
    )


def float_slider(description, value, low, high, step, **kwargs):
    """A float slider that updates on release (see ``Explorer._live_params``)."""
    return widgets.FloatSlider(
        value=value, min=low, max=high, step=step, description=description,
        continuous_update=False, **kwargs, **slider_style(),
    )


def dropdown(description, options, value):
    """A drop-down list of strings."""
    return widgets.Dropdown(
        options=list(options), value=value, description=description, **slider_style()
    )
