from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_state() -> None:
    """These tests read files and run linters: no database (overrides tests/conftest.py's fixture)."""
