"""Without Chromium (or espeak-ng/sox) the browser tests skip on a developer's machine, but fail in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import conftest


def test_nothing_missing_lets_the_tests_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "missing_tools", lambda: [])
    monkeypatch.setenv("CI", "true")
    conftest.require_browser_tools()  # neither skips nor fails


def test_missing_chromium_skips_with_the_reason_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "missing_tools", lambda: ["/usr/bin/chromium"])
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"/usr/bin/chromium not installed: run `make browser`"):
        conftest.require_browser_tools()


@pytest.mark.parametrize("ci", ["true", "True"])
def test_missing_tools_fail_in_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setattr(conftest, "missing_tools", lambda: ["espeak-ng", "sox"])
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=r"espeak-ng, sox not installed.*CI=true"):
        conftest.require_browser_tools()


def test_detection_names_each_missing_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(conftest, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None if name == "sox" else f"/usr/bin/{name}")
    assert conftest.missing_tools() == [str(tmp_path / "no-chromium"), "sox"]
