"""The plugin's own CI: it loads cleanly and its model keeps every promise ganzoo relies on.

Run with the plugin installed (``pip install -e .``): ``pytest tests``.
"""

import subprocess
import sys


def test_every_plugin_loads_cleanly():
    result = subprocess.run([sys.executable, "-m", "ganzoo", "plugins", "--strict"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_tinymlp_torch_conforms(ganzoo_check_model):
    report = ganzoo_check_model("tinymlp-torch")
    assert "state round-trip resumes exactly" in report.passed
