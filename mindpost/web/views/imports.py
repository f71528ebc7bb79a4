"""Import page: drop (or choose) many files — recordings, .txt/.md, zips — and watch each import's
progress (HTMX polls the batch's panel every second until it is done). A plain multipart form:
it works without JavaScript, which only adds the drop zone (static/web/imports.js)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from mindpost.core.errors import AppError, http_status
from mindpost.imports import intake, selectors, services
from mindpost.notes import uploads
from mindpost.web.helpers import web_user

RECENT = 5


def _page(request: HttpRequest, *, error: AppError | None = None) -> HttpResponse:
    user = web_user(request)
    batches = list(selectors.batch_list(user=user, with_items=True)[:RECENT])
    context: dict[str, Any] = {
        "batches": batches,
        "error": error,
        "max_files": settings.IMPORT_MAX_FILES,
        "max_mb": int(settings.IMPORT_MAX_BYTES) // (1024 * 1024),
    }
    return render(request, "web/imports.html", context, status=http_status(error) if error else 200)


@csrf_protect
def _create(request: HttpRequest, *, handler: uploads.SizeLimitUploadHandler | None) -> HttpResponse:
    user = web_user(request)
    try:
        files = intake.request_files(read=lambda: request.FILES.getlist("files"), handler=handler)
        batch = services.batch_create(user=user, files=files)
    except AppError as exc:
        return _page(request, error=exc)  # the message above the form, the files to choose again
    # Post/redirect/get: a reload never imports twice.
    return redirect(reverse("web:imports") + f"#import-{batch.pk}")


# csrf_exempt outside, csrf_protect inside (Django's recipe for upload handlers): the CSRF check
# reads the body, and the size-limiting upload handler must be in place before anything does.
@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    try:
        handler = intake.limit_body(request)
    except AppError as exc:
        return _page(request, error=exc)
    return _create(request, handler=handler)


@login_required
@require_GET
def import_progress(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    batch = selectors.batch_get(user=web_user(request), batch_id=pk)
    return render(request, "web/_import_batch.html", {"batch": batch})
