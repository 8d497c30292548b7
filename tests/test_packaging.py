"""pyproject.toml lists packages by hand: check that a wheel never misses one."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS["package-dir"]
PACKAGES: list[str] = SETUPTOOLS["packages"]


def import_name(folder: Path) -> str:
    """The import name of a package folder under package-dir (registry -> ganzoo_registry)."""
    rel = folder.relative_to(ROOT).as_posix()
    matches = [(name, root) for name, root in PACKAGE_DIR.items()
               if rel == root or rel.startswith(root + "/")]
    assert matches, f"{rel} is under no [tool.setuptools.package-dir] entry"
    name, root = max(matches, key=lambda m: len(m[1]))  # the most specific mapping wins
    return ".".join([name, *Path(rel).relative_to(root).parts])


def package_folders() -> list[Path]:
    found = []
    for top in ("ganzoo", "plugins", "registry"):
        for init in sorted((ROOT / top).rglob("__init__.py")):
            if "__pycache__" not in init.parts:
                found.append(init.parent)
    return found


def test_package_dir_points_at_real_folders():
    for name, folder in PACKAGE_DIR.items():
        assert (ROOT / folder / "__init__.py").is_file(), f"{name} -> {folder}"
    assert PACKAGE_DIR["ganzoo_registry"] == "registry"


def test_every_package_folder_is_listed():
    folders = package_folders()
    assert {ROOT / "ganzoo", ROOT / "registry", ROOT / "plugins" / "ganzoo_torch"} <= set(folders)
    missing = sorted({import_name(f) for f in folders} - set(PACKAGES))
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_every_listed_package_exists():
    stale = [p for p in PACKAGES
             if not any(import_name(f) == p for f in package_folders())]
    assert not stale, f"listed in pyproject.toml but no such folder with __init__.py: {stale}"


def test_builtin_plugins_are_declared_as_entry_points():
    entry_points = PYPROJECT["project"]["entry-points"]["ganzoo"]
    assert entry_points == {"torch": "ganzoo_torch.plugin", "keras": "ganzoo_keras.plugin"}
    for value in entry_points.values():
        package, module = value.split(".")
        assert package in PACKAGES
        assert (ROOT / PACKAGE_DIR[package] / f"{module}.py").is_file()
    assert PYPROJECT["project"]["scripts"]["ganzoo"] == "ganzoo.cli:main"


def test_package_data_covers_every_data_file():
    """A non-Python file inside a package folder ships only if package-data names it."""
    data = SETUPTOOLS.get("package-data", {})
    unshipped, checked = [], []
    for folder in package_folders():
        patterns = data.get(import_name(folder), [])
        for path in folder.rglob("*"):
            rel = path.relative_to(folder)
            if (not path.is_file() or path.suffix in (".py", ".pyc")
                    or any(part.startswith((".", "__pycache__")) for part in rel.parts)
                    or owner(path) != folder):
                continue
            checked.append(path.relative_to(ROOT).as_posix())
            if not any(fnmatch.fnmatch(rel.as_posix(), pattern) for pattern in patterns):
                unshipped.append(path.relative_to(ROOT).as_posix())
    assert not unshipped, f"add to [tool.setuptools.package-data]: {unshipped}"
    assert "registry/dcgan.toml" in checked


def owner(path: Path) -> Path:
    """The innermost package folder holding ``path``."""
    folder = path.parent
    while not (folder / "__init__.py").is_file():
        folder = folder.parent
    return folder
