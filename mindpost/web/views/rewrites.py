"""Rewrites on the web: the "Rewrite" panel of a note page and the own-styles editor in settings.

The panel loads itself (hx-trigger="load") so the note page's own view needs no change; pending
versions poll their own row until the job is done. Errors (unknown style, quota, note not ready)
land in a message area; a successful rewrite retargets the response to the version list.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mindpost.accounts.models import User
from mindpost.notes import rewrites
from mindpost.notes import selectors as note_selectors
from mindpost.notes.models import Note, NoteVersion
from mindpost.web.helpers import is_htmx, web_user


def _version_context(version: NoteVersion, *, open_: bool = False) -> dict[str, Any]:
    return {
        "version": version,
        "label": rewrites.style_label(version.style),
        "failure": rewrites.failure_message(version) if version.status == "failed" else "",
        "open": open_,
    }


def _panel_context(*, user: User, note: Note) -> dict[str, Any]:
    styles = rewrites.styles_for(user=user)
    versions = rewrites.version_list(note=note) if note.status == "ready" else []
    return {
        "note": note,
        "builtin_styles": [s for s in styles if not s.key.startswith(rewrites.CUSTOM_PREFIX)],
        "own_styles": [s for s in styles if s.key.startswith(rewrites.CUSTOM_PREFIX)],
        "versions": [_version_context(v, open_=i == 0) for i, v in enumerate(versions)],
    }


@login_required
@require_GET
def note_rewrites(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The panel's content: the style menu and the versions (polled while the note is processing)."""
    user = web_user(request)
    note = note_selectors.note_get(user=user, note_id=pk)
    return render(request, "web/_note_rewrites_panel.html", _panel_context(user=user, note=note))


@login_required
@require_POST
def note_rewrite(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    user = web_user(request)
    note = note_selectors.note_get(user=user, note_id=pk)
    rewrites.rewrite_request(user=user, note=note, style=request.POST.get("style", ""))
    if not is_htmx(request):
        return redirect(f"/notes/{note.pk}/#rewrites")
    response = render(request, "web/_note_versions.html", {**_panel_context(user=user, note=note), "fresh": True})
    # The form targets its message area (where errors go); success replaces the version list.
    response["HX-Retarget"] = "#rewrite-versions"
    response["HX-Reswap"] = "outerHTML"
    return response


@login_required
@require_GET
def note_version(request: HttpRequest, pk: uuid.UUID, vid: uuid.UUID) -> HttpResponse:
    """One version's row (polled while pending)."""
    note = note_selectors.note_get(user=web_user(request), note_id=pk)
    version = rewrites.version_get(note=note, version_id=vid)
    return render(request, "web/_note_version.html", _version_context(version, open_=True))


@login_required
@require_POST
def note_version_delete(request: HttpRequest, pk: uuid.UUID, vid: uuid.UUID) -> HttpResponse:
    note = note_selectors.note_get(user=web_user(request), note_id=pk)
    rewrites.version_delete(version=rewrites.version_get(note=note, version_id=vid))
    if not is_htmx(request):
        return redirect(f"/notes/{note.pk}/#rewrites")
    return HttpResponse("")  # swapped over the row: it disappears


@login_required
@require_POST
def settings_rewrite_styles(request: HttpRequest) -> HttpResponse:
    """Save the own-styles editor: one name + instructions pair per row; rows left empty are dropped."""
    user = web_user(request)
    names, instructions = request.POST.getlist("style_name"), request.POST.getlist("style_instructions")
    rows = [
        {"name": name, "instructions": text}
        for name, text in zip(names, instructions, strict=False)
        if name.strip() or text.strip()
    ]
    saved = rewrites.custom_styles_set(user=user, styles=rows)
    if not is_htmx(request):
        return redirect("/settings/#rewrite-styles")
    response = render(
        request,
        "web/_rewrite_styles_panel.html",
        {"rewrite_styles": saved, "saved": "Your styles are saved. They are in every note's Rewrite menu."},
    )
    response["HX-Retarget"] = "#rewrite-styles-panel"
    response["HX-Reswap"] = "outerHTML"
    return response
