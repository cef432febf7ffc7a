"""The environment the suite runs in is the one requirements.lock describes (make install, make
test), so a result here is a result for every machine that installs the same lock."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
_PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(?:;\s*(.+))?$")


def _locked() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        match = _PINNED.match(line.strip())
        if match and (match.group(3) is None or Marker(match.group(3)).evaluate()):
            pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def _public(text: str) -> Version:
    """2.13.0+cpu is the 2.13.0 release in its CPU build."""
    return Version(Version(text).public)


def test_every_dependency_is_locked_and_installed_at_its_locked_version():
    locked = _locked()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    for requirement in map(Requirement, wanted):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock: run make lock"
        assert locked[name] in requirement.specifier, f"{name} {locked[name]} is out of range"
        assert _public(version(name)) == locked[name], f"{name} is not the locked version"


def test_no_installed_package_strays_from_the_lock():
    strays = {}
    for name, pinned in _locked().items():
        try:
            installed = _public(version(name))
        except PackageNotFoundError:
            continue  # an extra this environment does not have
        if installed != pinned:
            strays[name] = f"{installed} installed, {pinned} locked"
    assert strays == {}
