"""Static files: hashed, compressed names wherever collectstatic has run (issue 15).

WhiteNoise serves a hashed name ("app.3f2a…c1.css") with a far-future, immutable Cache-Control,
so a page load re-checks nothing. Django's manifest storage hands out hashed names only with
DEBUG off; `make run` (DEBUG on) collects first and gets them too. Where nothing was collected
(a bare checkout, the unit tests) development falls back to the plain names, which WhiteNoise
finds in the apps."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import StaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticStorage(CompressedManifestStaticFilesStorage):
    manifest_strict = False  # a file missing from the manifest is hashed from STATIC_ROOT, or below

    def url(self, name: Any, force: bool = False) -> str:
        try:
            return super().url(name, force=True)
        except ValueError:
            # Not collected: only development (finders on) may serve the plain name.
            if not settings.WHITENOISE_USE_FINDERS:
                raise
            return StaticFilesStorage.url(self, name)
