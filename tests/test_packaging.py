"""Packaging, without building: what pyproject.toml ships is what a wheel install needs.

`pip install -e` reads everything from the source tree, so a file the wheel lacks shows up only
in a real install; .ci/wheel-check builds and installs one. These checks are the fast half.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from valuation import config

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGES: list[str] = SETUPTOOLS["packages"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS.get("package-dir", {})
PACKAGE_DATA: dict[str, list[str]] = SETUPTOOLS.get("package-data", {})


def _package_dir(name: str) -> Path:
    """The source directory of a package, as setuptools maps it (package-dir, else dotted)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in PACKAGE_DIR:
            return (ROOT / PACKAGE_DIR[prefix]).joinpath(*parts[i:]).resolve()
    return ROOT.joinpath(*parts).resolve()


def _shipped_data() -> set[Path]:
    return {f.resolve() for pkg, globs in PACKAGE_DATA.items() for g in globs
            for f in _package_dir(pkg).glob(g) if f.is_file()}


def test_packages_are_explicit_list():
    # An explicit list (see pyproject.toml); the checks below keep it complete.
    assert isinstance(PACKAGES, list)


@pytest.mark.parametrize("name", PACKAGES)
def test_every_package_has_its_directory(name):
    d = _package_dir(name)
    assert d.is_dir(), f"package {name}: no directory {d}"
    assert list(d.glob("*.py")), f"package {name}: no modules in {d}"


@pytest.mark.parametrize(("pkg", "pattern"),
                         [(p, g) for p, globs in PACKAGE_DATA.items() for g in globs])
def test_every_package_data_glob_matches_a_file(pkg, pattern):
    assert pkg in PACKAGES, f"package-data for {pkg}, which is not a listed package"
    matches = [f for f in _package_dir(pkg).glob(pattern) if f.is_file()]
    assert matches, f"package-data {pkg}: {pattern!r} matches no file under {_package_dir(pkg)}"


@pytest.mark.parametrize("top", ["valuation", "ui"])
def test_every_source_package_is_listed(top):
    # A new subpackage left out of the list would be missing from the wheel only.
    listed = {_package_dir(p) for p in PACKAGES}
    for d in [ROOT / top, *sorted((ROOT / top).rglob("*"))]:
        if d.is_dir() and d.name != "__pycache__" and list(d.glob("*.py")):
            assert d.resolve() in listed, f"{d.relative_to(ROOT)}: not a listed package"


def test_every_data_file_of_the_library_ships():
    shipped = _shipped_data()
    for f in sorted((ROOT / "valuation").rglob("*")):
        if f.is_file() and f.suffix not in {".py", ".pyc"} and "__pycache__" not in f.parts:
            assert f.resolve() in shipped, f"{f.relative_to(ROOT)} is not in package-data"


def test_default_settings_live_in_the_package_and_load():
    pkg = (ROOT / "valuation").resolve()
    path = config.DEFAULT_SETTINGS_PATH.resolve()
    assert path.is_relative_to(pkg), path
    assert path.is_file()
    assert path in _shipped_data()
    s = config.load_settings()
    assert s.models and s.tiers
    assert config.same_settings(s, config.load_settings(path))


def test_the_app_ships_beside_its_pages():
    # `valuation app` runs app.py from the source tree, or from valuation/_app/ once installed;
    # st.navigation resolves the pages/ paths next to app.py, and streamlit reads
    # .streamlit/config.toml from the directory it runs in (app.py's).
    from ui.nav import PAGES

    from valuation.appbench import app_script

    app = app_script()
    assert app == ROOT / "app.py"
    app_pkgs = [p for p in PACKAGES if _package_dir(p) == app.parent.resolve()]
    assert app_pkgs == ["valuation._app"], app_pkgs
    assert (ROOT / "ui").resolve() == _package_dir("valuation._app.ui")
    assert "valuation._app.ui" in PACKAGES
    shipped = _shipped_data()
    for page in PAGES:
        assert (app.parent / page.path).resolve() in shipped, f"{page.path} is not shipped"
    assert (app.parent / ".streamlit" / "config.toml").resolve() in shipped
