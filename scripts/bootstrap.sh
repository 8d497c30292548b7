#!/usr/bin/env bash
# Set up .venv with ganzoo, both backends and the dev tools. Idempotent: a second run is quick.
# torch/torchvision/tensorflow-cpu are pinned in pyproject.toml to the wheels this machine's pip
# finds on local disk, so nothing large is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.ganzoo-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet -e '.[torch,keras,dev]' 2>&1 \
        | grep -v "^WARNING: Location" || true
    .venv/bin/python -c "import ganzoo, torch, tensorflow" >/dev/null 2>&1 || {
        echo "bootstrap: the install did not complete (see pip's output above)" >&2; exit 1; }
    touch "$stamp"
fi
