"""The documented layering (docs/architecture.md "Layers") holds: import-linter's contracts in
pyproject.toml ([tool.importlinter]), run as `make test` runs everything else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # the console script does not put the cwd on sys.path
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_html_views_live_only_in_web() -> None:
    apps = [path.parent for path in (ROOT / "mindpost").glob("*/apps.py") if path.parent.name != "web"]
    strays = [
        path.relative_to(ROOT)
        for app in apps
        for path in [app / "views.py", app / "web_views.py", app / "views"]
        if path.exists()
    ]
    assert strays == [], "HTML views belong in mindpost/web/views/"
