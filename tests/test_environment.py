"""The pins live in requirements.txt; environment.yml (Binder) must agree."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip().lstrip("-").strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_environment_yml_has_the_same_pins_as_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    text = (ROOT / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1].splitlines()
    env = _pins(pip_section)
    assert req, "requirements.txt pins nothing"
    assert env == req
    assert re.search(r"^\s*-\s*python=3\.11\s*$", text, re.M)


def test_every_requirement_is_pinned_exactly():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            assert "==" in line, f"unpinned requirement: {line}"


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    for name, pinned in _pins((ROOT / "requirements.txt").read_text().splitlines()).items():
        assert version(name) == pinned, name
