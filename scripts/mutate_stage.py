"""Stage a copy of the repository in its import layout for one mutmut run.

mutmut 3 names a mutant after its file's path (``plugins/ganzoo_torch/steps.py`` would be
``plugins.ganzoo_torch.steps``) and only activates it when the running function's
``__module__`` matches. The built-in plugins live outside their import path (pyproject's
package-dir), so mutmut cannot run in the repository itself. This script copies the packages
into a folder laid out as Python imports them (``ganzoo/``, ``ganzoo_torch/``, ``ganzoo_keras/``,
``ganzoo_registry/``) with ``tests/`` and ``docs/``, and writes a pyproject.toml whose
``[tool.mutmut]`` table is the repository's, narrowed to one module and its tests.

The working tree is only read; mutants live under ``<stage>/mutants/``.

Usage: python scripts/mutate_stage.py STAGE_DIR MODULE_IMPORT_PATH TEST [TEST ...]
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

# repository folder -> import name (mirrors [tool.setuptools.package-dir])
PACKAGES = {
    "ganzoo": "ganzoo",
    "plugins/ganzoo_torch": "ganzoo_torch",
    "plugins/ganzoo_keras": "ganzoo_keras",
    "registry": "ganzoo_registry",
}
ALSO = ["tests", "docs"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")


def import_path(repo_path: str) -> str:
    """``plugins/ganzoo_torch/steps.py`` -> ``ganzoo_torch/steps.py`` (the staged path)."""
    for folder, name in sorted(PACKAGES.items(), key=lambda kv: -len(kv[0])):
        if repo_path == folder or repo_path.startswith(folder + "/"):
            return name + repo_path[len(folder) :]
    raise SystemExit(f"{repo_path} is not inside a ganzoo package ({', '.join(PACKAGES)})")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def staged_pyproject(text: str, module: str, tests: list[str]) -> str:
    """The repository's pyproject with [tool.mutmut] narrowed to ``module`` and ``tests``."""
    table = dict(tomllib.loads(text).get("tool", {}).get("mutmut", {}))
    allowed = table.get("only_mutate", [])
    if module not in allowed:
        raise SystemExit(f"{module} is not in [tool.mutmut] only_mutate: {allowed}")
    table["only_mutate"] = [module]
    table["pytest_add_cli_args_test_selection"] = tests
    # drop the repository's table (it runs to the next table header or the end of the file)
    text = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", text)
    body = "".join(f"{key} = {_toml_value(value)}\n" for key, value in table.items())
    return text.rstrip("\n") + "\n\n[tool.mutmut]\n" + body


def stage(target: Path, module: str, tests: list[str]) -> None:
    """Refresh ``target`` (keeping mutmut's cache in ``target/mutants``) for one run."""
    target.mkdir(parents=True, exist_ok=True)
    for folder, name in [*PACKAGES.items(), *((a, a) for a in ALSO)]:
        dest = target / name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(ROOT / folder, dest, ignore=IGNORE)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (target / "pyproject.toml").write_text(staged_pyproject(text, module, tests), encoding="utf-8")


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        raise SystemExit(__doc__)
    target, module, *tests = argv
    stage(Path(target), module, tests)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--import-path":
        print(import_path(sys.argv[2]))
    else:
        main(sys.argv[1:])
