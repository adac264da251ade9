"""How fast do the lmu_viz explorers react to a parameter change?

For each explorer, at memory orders d = 12 and d = 64 and with 2,000 samples
shown, this changes one parameter 50 times (50 distinct values, so every
change that needs new numbers really computes them; the ``order`` rows
alternate d and d − 1, so after two changes their numbers come from the
explorers' caches and those rows measure the redraw) and times each change
from the call of ``update`` to a finished redraw of the Agg canvas
(``figure.canvas.draw()``). It reports the median and the 95th percentile of

* ``compute`` — the numbers from :mod:`lmu` (simulation, decoding, NRMSE);
* ``render`` — updating the existing artists in place;
* ``draw`` — the Agg draw;
* ``total`` — the whole update;

each in wall-clock time and (under ``cpu``) in CPU time of the process, which
other load on the machine disturbs less; ``redraws`` counts how the changes
were drawn (see ``Explorer.last_redraw``: ``full`` figure, only the ``axes``
whose ticks changed, the ``data`` layer over the kept static background, or
a ``blit`` of the fast artists) and ``blitted_fraction`` is the share of
blits;

and, for the main slider of each explorer, the same with the inline backend
(``total_inline``: Agg draw + PNG encoding + Output widget update), which is
what a reader of a notebook without ipympl waits for.

Targets: compute < 5 ms and total < 50 ms (median). This is a measurement,
not a test: the numbers depend on the machine and on its load, both recorded
in the JSON file.

Run: ``.venv/bin/python benchmarks/viz_update.py`` (writes
``benchmarks/results/viz_update.json``; ``--changes N`` for fewer changes).
"""

import os

# small matrices: one BLAS thread is fastest and least disturbed by other load
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from importlib.metadata import version  # noqa: E402

import numpy as np  # noqa: E402

from lmu.experiments.common import provenance  # noqa: E402
from lmu_viz import (  # noqa: E402
    DelayReconstructionExplorer,
    LegendreBasisExplorer,
    MemoryStateExplorer,
    SystemExplorer,
)

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "results" / "viz_update.json"
SAMPLES = 2000
ORDERS = (12, 64)


def scenarios(order, n):
    """(widget name, factory, parameter, values, main) for one order ``d``."""
    cycle = np.linspace(0, 1, n)
    return [
        ("LegendreBasisExplorer", lambda b: LegendreBasisExplorer(
            order=order, n_points=SAMPLES, backend=b),
         "highlight", [int(i) for i in (np.arange(n) % order)], True),
        ("LegendreBasisExplorer", lambda b: LegendreBasisExplorer(
            order=order, n_points=SAMPLES, backend=b),
         "order", [order - (i % 2) for i in range(1, n + 1)], False),
        ("DelayReconstructionExplorer", lambda b: DelayReconstructionExplorer(
            order=order, steps=SAMPLES, backend=b),
         "delay", [round(float(v), 2) for v in 0.02 + 0.96 * cycle], True),
        ("DelayReconstructionExplorer", lambda b: DelayReconstructionExplorer(
            order=order, steps=SAMPLES, backend=b),
         "theta", [round(float(v), 2) for v in 0.5 + 2.45 * cycle], False),
        ("MemoryStateExplorer", lambda b: MemoryStateExplorer(
            order=order, steps=SAMPLES, backend=b),
         "t", [round(float(v), 3) for v in 1.0 + 8.0 * cycle], True),
        ("MemoryStateExplorer", lambda b: MemoryStateExplorer(
            order=order, steps=SAMPLES, backend=b),
         "theta", [round(float(v), 2) for v in 0.5 + 2.45 * cycle], False),
        ("SystemExplorer", lambda b: SystemExplorer(order=order, backend=b),
         "dt", [float(v) for v in np.geomspace(1e-3, 0.5, n)], True),
        ("SystemExplorer (euler)", lambda b: SystemExplorer(order=order, method="euler", backend=b),
         "dt", [float(v) for v in np.geomspace(1e-3, 0.5, n)], False),
        ("SystemExplorer", lambda b: SystemExplorer(order=order, backend=b),
         "theta", [round(float(v), 1) for v in 0.5 + 9.0 * cycle], False),
        ("DelayReconstructionExplorer", lambda b: DelayReconstructionExplorer(
            order=order, steps=SAMPLES, backend=b),
         "order", [order - (i % 2) for i in range(1, n + 1)], False),
        ("MemoryStateExplorer", lambda b: MemoryStateExplorer(
            order=order, steps=SAMPLES, backend=b),
         "order", [order - (i % 2) for i in range(1, n + 1)], False),
        ("SystemExplorer", lambda b: SystemExplorer(order=order, backend=b),
         "order", [order - (i % 2) for i in range(1, n + 1)], False),
    ]


def stats(seconds):
    ms = np.asarray(seconds) * 1e3
    return {"median_ms": round(float(np.median(ms)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2)}


def measure(factory, param, values, backend):
    """Wall-clock and CPU-time statistics of ``update(param=value)`` for each value."""
    explorer = factory(backend)
    wall = {"compute": [], "render": [], "draw": [], "total": []}
    cpu = {key: [] for key in wall}
    redraws = []
    for value in values:
        start, start_cpu = time.perf_counter(), time.process_time()
        explorer.update(**{param: value})
        wall["total"].append(time.perf_counter() - start)
        cpu["total"].append(time.process_time() - start_cpu)
        if explorer.status.value and "unstable" not in explorer.status.value:
            raise RuntimeError(f"{param}={value}: {explorer.status.value}")
        for key in ("compute", "render", "draw"):
            wall[key].append(explorer.timings[key])
            cpu[key].append(explorer.cpu_timings[key])
        redraws.append(explorer.last_redraw)
    out = {key: stats(v) for key, v in wall.items()}
    out["cpu"] = {key: stats(v) for key, v in cpu.items()}
    out["redraws"] = {kind: redraws.count(kind) for kind in ("full", "axes", "data", "blit")}
    out["blitted_fraction"] = round(redraws.count("blit") / len(redraws), 3)
    return out


def cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=50, help="parameter changes per case")
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    started = time.perf_counter()
    rows = []
    for order in ORDERS:
        for name, factory, param, values, main_slider in scenarios(order, args.changes):
            row = {"widget": name, "order": order, "samples": SAMPLES, "parameter": param,
                   "changes": len(values)}
            row.update(measure(factory, param, values, "none"))
            if main_slider:
                inline = measure(factory, param, values, "inline")
                row["total_inline"] = inline["total"]
                row["total_inline_cpu"] = inline["cpu"]["total"]
            row["meets_targets"] = (
                row["compute"]["median_ms"] < 5.0 and row["total"]["median_ms"] < 50.0
            )
            rows.append(row)
            inline = row.get("total_inline", {}).get("median_ms")
            print(
                f"{name:28s} d={order:<3d} {param:9s} compute {row['compute']['median_ms']:7.2f} "
                f"(p95 {row['compute']['p95_ms']:7.2f}) ms  total {row['total']['median_ms']:7.1f} "
                f"(p95 {row['total']['p95_ms']:7.1f}) ms  cpu total "
                f"{row['cpu']['total']['median_ms']:6.1f} ms  "
                + " ".join(f"{k} {v}" for k, v in row["redraws"].items() if v)
                + (f"  inline {inline:7.1f} ms" if inline is not None else ""),
                flush=True,
            )
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    result = {
        "benchmark": "viz_update",
        "description": "time from a parameter change to a finished Agg redraw, per explorer",
        "targets_ms": {"compute_median": 5.0, "total_median": 50.0},
        "rows": rows,
        "provenance": provenance(
            None, seeds=0, wall_time_s=time.perf_counter() - started,
            git_commit=commit, cpu_model=cpu_model(),
            libraries={name: version(name) for name in ("matplotlib", "ipywidgets", "pillow")},
            blas_threads=os.environ.get("OPENBLAS_NUM_THREADS"),
            load_average_before=[round(x, 2) for x in load_before],
            load_average_after=[round(x, 2) for x in os.getloadavg()],
            note="shared 2-core machine: other jobs ran at the same time (see load averages)",
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
