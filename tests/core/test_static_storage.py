"""Static files get hashed names once collected (far-future cacheable); before that, development
falls back to the plain names (issue 15, item 10)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from mindpost.core.static_storage import HashedStaticStorage


def test_collected_files_have_hashed_compressed_names(tmp_path: Path) -> None:
    with override_settings(STATIC_ROOT=str(tmp_path)):
        call_command("collectstatic", interactive=False, verbosity=0)
        url = HashedStaticStorage().url("web/app.css")
    assert re.fullmatch(r"/static/web/app\.[0-9a-f]{12}\.css", url), url
    hashed = tmp_path / url.removeprefix("/static/")
    assert Path(f"{hashed}.gz").exists()  # WhiteNoise serves the compressed copy


def test_uncollected_files_keep_their_names_in_development(tmp_path: Path) -> None:
    with override_settings(STATIC_ROOT=str(tmp_path / "empty"), WHITENOISE_USE_FINDERS=True):
        assert HashedStaticStorage().url("web/app.css") == "/static/web/app.css"
    with (
        override_settings(STATIC_ROOT=str(tmp_path / "empty"), WHITENOISE_USE_FINDERS=False),
        pytest.raises(ValueError, match="could not be found"),
    ):
        HashedStaticStorage().url("web/app.css")
