"""The installable app (issue 12, item 3): the web app manifest, the service worker, the offline page
and the share target that turns an audio file shared from another app into a note.

Sharing and CSRF: the OS sends the share as a cross-site multipart POST without a CSRF token. The
service worker (templates/web/sw.js) catches that navigation before it leaves the device, keeps the
file in the recorder's IndexedDB queue and opens GET /share/, whose script uploads the file here with
the session's CSRF token. So the POST that creates a note stays CSRF-protected like every other form,
and a forged cross-site POST cannot plant a note. A token-less POST that reaches the server anyway
(no service worker yet) is answered with a redirect that stores nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from mindpost.core.errors import AppError, Invalid, app_error_json, error_body
from mindpost.notes import idempotency
from mindpost.notes import services as note_services
from mindpost.web.helpers import GENERIC_FAILURE, web_user

logger = logging.getLogger(__name__)

THEME_COLOR = "#6425f5"  # --color-brand-600, the <meta name="theme-color"> in base.html
BACKGROUND_COLOR = "#fafaf9"  # --color-stone-50, the body background
SHARE_FIELD = "audio"  # the manifest's share_target file param

# What the offline page and the recorder need with no network: precached by the service worker.
APP_SHELL = (
    "web/app.css",
    "web/app.js",
    "web/record.js",
    "web/pwa.js",
    "web/vendor/htmx.min.js",
    "web/vendor/alpine-csp.min.js",
    "web/favicon.svg",
    "web/icons/icon-192.png",
)
ICONS = (
    ("web/icons/icon-192.png", "192x192", "any"),
    ("web/icons/icon-512.png", "512x512", "any"),
    ("web/icons/maskable-192.png", "192x192", "maskable"),
    ("web/icons/maskable-512.png", "512x512", "maskable"),
)
SHARE_ACCEPT = ["audio/*", ".m4a", ".mp3", ".ogg", ".opus", ".wav", ".webm", ".flac", ".aac"]


def manifest_data() -> dict[str, Any]:
    return {
        "id": "/",
        "name": "MindPost",
        "short_name": "MindPost",
        "description": "Voice notes that become searchable memory and posts worth publishing.",
        "start_url": reverse("web:record"),
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": [
            {"src": static(src), "sizes": sizes, "type": "image/png", "purpose": purpose}
            for src, sizes, purpose in ICONS
        ],
        "shortcuts": [
            {"name": "Record a note", "url": reverse("web:record")},
            {"name": "Search notes", "url": reverse("web:notes")},
        ],
        "share_target": {
            "action": reverse("web:share"),
            "method": "POST",
            "enctype": "multipart/form-data",
            "params": {"title": "title", "text": "text", "files": [{"name": SHARE_FIELD, "accept": SHARE_ACCEPT}]},
        },
    }


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    # Icon URLs carry the static files' hashes, which change with a deploy: revalidate every time.
    response = HttpResponse(json.dumps(manifest_data(), indent=2), content_type="application/manifest+json")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The worker as a template, so it precaches the hashed static URLs of this deploy; a deploy
    that changes a file changes the cache name, and the new worker drops the old cache."""
    assets = [static(name) for name in APP_SHELL]
    config = {
        "version": hashlib.sha256("\n".join(assets).encode()).hexdigest()[:16],
        "assets": assets,
        "staticPrefix": settings.STATIC_URL,
        "offline": reverse("web:offline"),
        "share": reverse("web:share"),
        "shareField": SHARE_FIELD,
    }
    response = render(
        request, "web/sw.js", {"config": json.dumps(config)}, content_type="text/javascript; charset=utf-8"
    )
    # Browsers re-check the worker script at most daily anyway; no-cache makes a deploy reach them now.
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    """What the service worker shows for a page that cannot load offline: a recorder that keeps
    recordings on the device. The worker caches it fetched without cookies, so it holds nobody's data."""
    return render(request, "web/offline.html")


@login_required
@require_GET
def share_page(request: HttpRequest) -> HttpResponse:
    """Where a share lands (after sign-in when signed out): its script uploads the shared file(s)."""
    return render(request, "web/share.html", {"failed": "failed" in request.GET})


@login_required
@csrf_protect
def _share_upload(request: HttpRequest) -> HttpResponse:
    """The shared file, uploaded by the share page with the session's CSRF token: a note through the
    same service (quotas, length and size limits, idempotency) as the recorder's uploads."""
    user = web_user(request)
    audio = request.FILES.get(SHARE_FIELD)
    try:
        if audio is None:
            raise Invalid("No audio file was shared.", code="audio_missing")
        key = idempotency.clean_key(request.headers.get(idempotency.HEADER))
        result = note_services.note_create_from_audio(user=user, upload=audio, idempotency_key=key)
    except AppError as exc:
        return app_error_json(exc)
    except Exception:
        logger.exception("shared audio upload failed")
        return JsonResponse(error_body(code="server_error", detail=GENERIC_FAILURE), status=500)
    return HttpResponseRedirect(reverse("web:notes_detail", kwargs={"pk": result.note.pk}), status=303)


@csrf_exempt  # checked below: _share_upload is csrf_protect'ed; a token-less POST changes nothing
@never_cache
@require_http_methods(["GET", "POST"])
def share(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return share_page(request)
    if settings.CSRF_HEADER_NAME not in request.META:
        # Straight from the OS with no service worker to catch it: the body is not read and no note
        # is made (that would let any site post notes into a signed-in account). Ask to share again.
        return HttpResponseRedirect(reverse("web:share") + "?failed=1", status=303)
    return _share_upload(request)
