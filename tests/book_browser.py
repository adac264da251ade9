"""Build the book and look at it in a real browser (headless Chromium).

Helpers for ``tests/test_book_browser.py``:

* :func:`build_book` runs ``jupyter-book build`` into a separate folder; the
  chapters that show widgets are executed (so their embedded widget state is
  the build's own), the others are rendered from their committed outputs
  (nbval has just executed them in the same test run);
* :func:`serve` serves a folder on ``127.0.0.1`` from a thread;
* :class:`Chromium` starts Debian's ``chromium`` headless and drives it over
  the Chrome DevTools protocol (CDP) with tornado's websocket client (tornado
  is already installed with Jupyter), so no browser-driver package is needed.
"""

import asyncio
import base64
import contextlib
import functools
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-allow-origins=*",
    "--window-size=1280,1600",
]


def find_chromium():
    """Path of a Chromium executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def toc_chapters():
    """Chapter paths (``book/x``, no suffix) listed in ``_toc.yml``, in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def widget_notebooks():
    """Notebooks of the book whose code uses lmu_viz or ipywidgets."""
    found = []
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        code = "\n".join(
            "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
        )
        if "lmu_viz" in code or "ipywidgets" in code:
            found.append(path)
    return found


def build_book(out_dir, execute):
    """Build the HTML book into ``out_dir/_build/html``.

    Parameters
    ----------
    out_dir : pathlib.Path
        Folder for jupyter-book's ``--path-output``.
    execute : list of pathlib.Path
        Notebooks to execute; every other notebook keeps its committed outputs.

    Returns
    -------
    pathlib.Path
        The ``html`` folder.
    """
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    keep = {p.resolve() for p in execute}
    skip = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "book").glob("*.ipynb"))
        if p.resolve() not in keep
    ]
    config.setdefault("execute", {})["exclude_patterns"] = skip
    # the config file lives elsewhere: make its folder paths absolute
    sphinx = config.get("sphinx", {})
    for name, path in (sphinx.get("local_extensions") or {}).items():
        sphinx["local_extensions"][name] = str(ROOT / path)
    static = sphinx.get("config", {}).get("html_static_path")
    if static:
        sphinx["config"]["html_static_path"] = [str(ROOT / p) for p in static]
    out_dir.mkdir(parents=True, exist_ok=True)
    config_path = out_dir / "_config.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    jb = pathlib.Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", "--all", str(ROOT), "--config", str(config_path),
           "--path-output", str(out_dir)]
    # no MPLBACKEND: the kernels must use the inline backend to show figures
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["LMU_BOOK_MODE"] = "quick"
    log = out_dir / "build.log"
    with open(log, "w") as stream:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=stream, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (log: {log}):\n" + log.read_text()[-4000:])
    return out_dir / "_build" / "html"


@contextlib.contextmanager
def serve(directory):
    """Serve ``directory`` over HTTP on 127.0.0.1; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class PageReport:
    """What one page load showed: DOM counts, console errors, requests."""

    def __init__(self, url):
        self.url = url
        self.console_errors = []
        self.requests = []
        self.failed_requests = []
        self.dom = {}
        self.screenshot = None


class Chromium:
    """Headless Chromium driven over the DevTools protocol (one page)."""

    def __init__(self, executable):
        self.profile = tempfile.mkdtemp(prefix="lmu-book-chromium-")
        self.proc = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = pathlib.Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise RuntimeError("chromium did not start its DevTools server")
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        self.ws_url = next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"]
        self.loop = asyncio.new_event_loop()
        self.ws = self.loop.run_until_complete(self._connect())
        self._id = 0
        self._events = []

    async def _connect(self):
        from tornado.websocket import websocket_connect

        return await websocket_connect(self.ws_url, max_message_size=1 << 28)

    async def _call(self, method, params):
        self._id += 1
        call_id = self._id
        await self.ws.write_message(json.dumps({"id": call_id, "method": method,
                                                "params": params}))
        while True:
            message = await self.ws.read_message()
            if message is None:
                raise RuntimeError("chromium closed the DevTools connection")
            data = json.loads(message)
            if data.get("id") == call_id:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})
            self._events.append(data)

    def call(self, method, **params):
        """Send one CDP command and return its result (events are queued)."""
        return self.loop.run_until_complete(
            asyncio.wait_for(self._call(method, params), timeout=120)
        )

    def evaluate(self, expression):
        """Value of a JavaScript expression in the page (JSON-serializable)."""
        result = self.call("Runtime.evaluate", expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url, ready_js="true", timeout=60.0):
        """Load ``url``, wait for the load event and for ``ready_js`` to be true.

        Returns
        -------
        PageReport
            Console errors, requests made and a PNG screenshot (bytes).
        """
        report = PageReport(url)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self._events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.time() + timeout
        ready = False
        while time.time() < deadline:
            if self.evaluate(f"document.readyState === 'complete' && Boolean({ready_js})"):
                ready = True
                break
            time.sleep(0.25)
        time.sleep(1.0)  # let late renders and requests settle
        self.evaluate("1")  # collect the events queued meanwhile
        report.ready = ready
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                text = " ".join(str(a.get("value", a.get("description", "")))
                                for a in params.get("args", []))
                report.console_errors.append(text)
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                report.console_errors.append(
                    details.get("exception", {}).get("description") or details.get("text", "")
                )
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                entry = params["entry"]
                report.console_errors.append(f"{entry.get('text')} {entry.get('url', '')}")
            elif method == "Network.requestWillBeSent":
                report.requests.append(params["request"]["url"])
            elif method == "Network.loadingFailed":
                report.failed_requests.append(params.get("errorText", "failed"))
        # whole page: make the viewport as tall as the page (capped), then capture it
        height = min(int(self.evaluate("document.documentElement.scrollHeight")), 16000)
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=height,
                  deviceScaleFactor=1, mobile=False)
        time.sleep(0.5)
        shot = self.call("Page.captureScreenshot", format="png")
        self.call("Emulation.clearDeviceMetricsOverride")
        report.screenshot = base64.b64decode(shot["data"])
        return report

    def close(self):
        """Stop this browser and remove its profile."""
        with contextlib.suppress(Exception):
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "loop", None) is not None:
            self.loop.close()
        shutil.rmtree(self.profile, ignore_errors=True)
