"""Static checks of the book's structure and configuration (no build needed)."""

import json
import pathlib

import yaml

from book_browser import ROOT, toc_chapters

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def test_toc_has_the_four_parts_in_order():
    captions = [part["caption"] for part in TOC["parts"]]
    assert captions == ["Introduction", "Theory", "Experiments", "Reference"]
    assert TOC["root"] == "book/intro"


def test_every_toc_entry_exists_and_every_chapter_is_listed():
    listed = toc_chapters()
    missing = [f for f in listed
               if not any((ROOT / f"{f}{ext}").exists() for ext in (".md", ".ipynb"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    assert len(listed) == len(set(listed)), "a chapter is listed twice"
    unlisted = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "book").glob("*.ipynb"))
                if str(p.relative_to(ROOT).with_suffix("")) not in listed]
    assert not unlisted, f"chapters missing from _toc.yml: {unlisted}"


def test_chapters_are_committed_with_outputs_and_the_python3_kernel():
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert code, f"{path.name} has no code"
        assert all(c.get("execution_count") for c in code), f"{path.name}: commit it executed"


def test_the_site_loads_its_javascript_locally():
    sphinx = CONFIG["sphinx"]["config"]
    scripts = list(sphinx["nb_ipywidgets_js"])
    assert scripts and not any("://" in s for s in scripts), scripts
    assert "://" not in sphinx["mathjax_path"]
    static = ROOT / sphinx["html_static_path"][0]
    for script in [*scripts, sphinx["mathjax_path"]]:
        assert (static / script).exists() or script.startswith("vendor/"), script
    # the vendored files come from npm at pinned versions
    package = json.loads((ROOT / "js" / "package.json").read_text())
    lock = json.loads((ROOT / "js" / "package-lock.json").read_text())
    for name, version in package["dependencies"].items():
        assert version[0].isdigit(), f"{name} is not pinned exactly: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_launch_buttons_and_repository_are_configured():
    assert CONFIG["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert CONFIG["launch_buttons"]["thebe"] is True
    assert CONFIG["repository"]["url"].startswith("https://github.com/")
    assert (ROOT / "environment.yml").exists() and (ROOT / "postBuild").exists()
    assert CONFIG["execute"]["execute_notebooks"] == "force"


def test_bibliography_has_the_paper():
    bib = (ROOT / "references.bib").read_text()
    assert "@inproceedings{voelker2019lmu," in bib
    assert CONFIG["bibtex_bibfiles"] == ["references.bib"]


def test_pages_workflow_builds_with_the_readme_commands():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    steps = {job: [s.get("run", s.get("uses", "")) for s in spec["steps"]]
             for job, spec in workflow["jobs"].items()}
    assert "make test" in steps["test"]
    assert "make book" in steps["deploy"]
    assert any(s.startswith("actions/deploy-pages@") for s in steps["deploy"])
    assert workflow["permissions"]["pages"] == "write"


def test_basis_figure_is_saved_as_png_and_pdf():
    for suffix in ("png", "pdf"):
        path = ROOT / "figures" / f"legendre_basis.{suffix}"
        assert path.exists() and path.stat().st_size > 10_000, path
    assert (ROOT / "figures" / "legendre_basis.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (ROOT / "figures" / "legendre_basis.pdf").read_bytes()[:5] == b"%PDF-"


def test_page_scripts_are_deduplicated_inline_or_not():
    import sys

    from sphinx.builders.html._assets import _JavaScript

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        from lmu_book_html import dedupe_scripts
    finally:
        sys.path.pop(0)
    body = 'const THEBE_JS_URL = "x"'
    scripts = [_JavaScript(None, body=body), _JavaScript("a.js"), _JavaScript("", body=body),
               _JavaScript("a.js"), _JavaScript("b.js", defer="defer")]
    context = {"script_files": scripts}
    dedupe_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] is scripts  # changed in place
    assert [s.filename for s in scripts] == [None, "a.js", "b.js"]
