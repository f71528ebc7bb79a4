"""Your own words on the web: the vocabulary in settings, and "Fix a name everywhere" on a note."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from mindpost.notes import selectors as note_selectors
from mindpost.notes import services as note_services
from mindpost.notes import vocabulary
from mindpost.web.helpers import web_user


@login_required
@require_POST
def settings_vocabulary(request: HttpRequest) -> HttpResponse:
    note_services.note_settings_update(user=web_user(request), vocabulary=request.POST.get("vocabulary", ""))
    return render(request, "web/_saved.html", {"message": "Your words are saved. New recordings will use them."})


@login_required
@require_POST
def note_fixname(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """First POST: say how many notes would change and ask to confirm; with confirm=1: do it."""
    user = web_user(request)
    note = note_selectors.note_get(user=user, note_id=pk)  # 404 for another user's note
    find, replace = request.POST.get("find", ""), request.POST.get("replace", "")
    if request.POST.get("confirm") == "1":
        changed = vocabulary.vocabulary_replace(user=user, find=find, replace=replace)
        note = note_selectors.note_get(user=user, note_id=pk)  # re-read: the transcript is sent back corrected
        context = {
            "note": note,
            "segments": note.segments,
            "done": True,
            "changed": changed,
            "find": find.strip(),
            "replace": replace.strip(),
        }
    else:
        count = vocabulary.vocabulary_replace_preview(user=user, find=find, replace=replace)
        context = {"note": note, "done": False, "count": count, "find": find.strip(), "replace": replace.strip()}
    return render(request, "web/_note_fixname_result.html", context)
