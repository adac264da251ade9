"""The built book in a real browser: widgets from embedded state, figures, no errors.

Builds the book (widget chapters executed, the others from their committed
outputs; see tests/book_browser.py), serves it on 127.0.0.1 and opens every
chapter in headless Chromium. Screenshots go to test-artifacts/browser/.

Chromium is Debian's ``chromium`` (``make test`` installs it with apt-get when
it is missing and we are root). Without it the test skips, except in CI
(environment variable ``CI`` set), where it fails.
"""

import os
import pathlib
import shutil
import urllib.parse

import pytest

from book_browser import ROOT, Chromium, build_book, find_chromium, serve, toc_chapters, widget_notebooks

ARTIFACTS = ROOT / "test-artifacts" / "browser"
SLIDERS = ".widget-slider, .jupyter-widgets input[type=range]"


@pytest.fixture(scope="module")
def chromium():
    path = find_chromium()
    if path is None:
        message = ("Debian's chromium is not installed: run `make test` as root (it installs "
                   "it with apt-get) or `apt-get install chromium`")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    browser = Chromium(path)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def site():
    """The freshly built book, served on localhost (base URL)."""
    out = ROOT / "_build" / "browser-test"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    chapters = toc_chapters()  # read before the build: what the build was given
    html = build_book(out, execute=widget_notebooks())
    with serve(html) as base:
        yield base, html, chapters


def _is_local(url, base):
    scheme = urllib.parse.urlsplit(url).scheme
    return url.startswith(base) or scheme in ("data", "blob", "about", "chrome-error")


def _page_checks(browser, base, chapter, expect_widgets):
    url = f"{base}/{chapter}.html"
    ready = (f"document.querySelectorAll('{SLIDERS}').length > 0" if expect_widgets
             else "document.readyState === 'complete'")
    report = browser.open(url, ready_js=ready, timeout=90)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{chapter.replace('/', '_')}.png").write_bytes(report.screenshot)
    dom = browser.evaluate(
        """(() => {
            const imgs = Array.from(document.querySelectorAll('main img, article img'));
            return {
              sliders: document.querySelectorAll(%r).length,
              widgets: document.querySelectorAll('.jupyter-widgets').length,
              images: imgs.length,
              broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80)),
              widgetImages: document.querySelectorAll('.jupyter-widgets img, .jupyter-widgets svg').length,
              widgetErrors: Array.from(document.querySelectorAll('.jupyter-widgets'))
                .filter(e => /Error rendering|Error displaying widget/.test(e.textContent)).length,
              math: document.querySelectorAll('mjx-container').length,
              texMath: document.querySelectorAll('.math').length,
              download: Array.from(document.querySelectorAll('a[href$=".ipynb"]')).map(a => a.href),
              rawTables: /\\|\\s*(-{3,}|\u2014)\\s*\\|/.test(Array.from(document.querySelectorAll('.cell_output > :not(.stream)'))
                .map(e => e.innerText).join('\\n')),
            };
        })()""" % SLIDERS
    )
    return report, dom


def test_every_chapter_renders_offline_with_widgets_and_figures(chromium, site):
    base, html, listed = site
    chapters = [c for c in listed if (html / f"{c}.html").exists()]
    assert chapters == listed, f"not built: {sorted(set(listed) - set(chapters))}"
    widget_chapters = {str(p.relative_to(ROOT).with_suffix("")) for p in widget_notebooks()}
    problems, seen_widgets = [], 0
    for chapter in chapters:
        expect_widgets = chapter in widget_chapters
        report, dom = _page_checks(chromium, base, chapter, expect_widgets)
        external = [u for u in report.requests if not _is_local(u, base)]
        # Chromium asks every site for /favicon.ico by itself; the book has none
        errors = [e for e in report.console_errors if not e.rstrip().endswith("/favicon.ico")]
        if external:
            problems.append(f"{chapter}: requests leaving localhost: {external[:5]}")
        if errors:
            problems.append(f"{chapter}: console errors: {errors[:5]}")
        if not report.ready:
            problems.append(f"{chapter}: did not finish loading (and rendering widgets)")
        if dom["broken"]:
            problems.append(f"{chapter}: images that did not load: {dom['broken']}")
        if dom["rawTables"]:
            problems.append(f"{chapter}: a Markdown table in an output was shown as raw text")
        if dom["texMath"] and not dom["math"]:
            problems.append(f"{chapter}: math was not typeset by the local MathJax")
        if (ROOT / f"{chapter}.ipynb").exists():
            if not any(h.endswith(".ipynb") for h in dom["download"]):
                problems.append(f"{chapter}: no download link to the notebook")
        if expect_widgets:
            seen_widgets += 1
            if not dom["sliders"]:
                problems.append(f"{chapter}: no slider rendered from the embedded widget state")
            if not dom["widgetImages"]:
                problems.append(f"{chapter}: the widgets show no initial figure")
            if dom["widgetErrors"]:
                problems.append(f"{chapter}: {dom['widgetErrors']} widgets failed to render")
    assert not problems, "\n".join(problems)
    assert seen_widgets == len(widget_chapters)
