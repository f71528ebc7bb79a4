"""Record page: the recorder, uploads (from the recorder's IndexedDB queue), files and typed notes."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mindpost.accounts.models import User
from mindpost.billing import selectors as billing_selectors
from mindpost.core.errors import AppError, Invalid, NotFound, app_error_json, error_body
from mindpost.notes import idempotency, uploads
from mindpost.notes import services as note_services
from mindpost.notes.models import Note, NoteKind, NoteStage, NoteStatus
from mindpost.notes.selectors import note_list, note_settings_get
from mindpost.web.helpers import GENERIC_FAILURE, web_user

logger = logging.getLogger(__name__)


def recording_allowance(*, user: User) -> dict[str, Any]:
    """What the recorder shows: recordings left this period (None = no limit) and the length cap."""
    summary = billing_selectors.usage_summary(user=user)
    limit = summary["limits"].get("recordings")
    used = summary["used"].get("recordings", 0)
    remaining = None if limit is None else max(0, int(limit) - int(used))
    return {
        "remaining": remaining,
        "limit": limit,
        "used": used,
        "allowed": bool(summary["active"]) and (remaining is None or remaining > 0),
        "max_seconds": uploads.max_seconds_for(user),
        "upgrade_url": reverse("web:settings") + "#plan",
    }


@login_required
@require_GET
def record_page(request: HttpRequest) -> HttpResponse:
    user = web_user(request)
    context = {
        "allowance": recording_allowance(user=user),
        "recent": list(note_list(user=user)[:3]),
        "save_on_stop": note_settings_get(user=user).save_on_stop,
    }
    return render(request, "web/record.html", context)


@login_required
@require_POST
def upload(request: HttpRequest) -> JsonResponse:
    """multipart `audio_file`, keyed by the recorder's own id so a retried upload is not stored twice."""
    user = web_user(request)
    audio = request.FILES.get("audio_file")
    try:
        if audio is None:
            raise Invalid("Choose or record some audio first.", code="audio_missing")
        key = idempotency.clean_key(request.headers.get(idempotency.HEADER) or request.POST.get("client_id"))
        result = note_services.note_create_from_audio(user=user, upload=audio, idempotency_key=key)
    except AppError as exc:
        # The recorder reads JSON (it retries from its queue), so not the HTML error page.
        return app_error_json(exc)
    except Exception:
        logger.exception("web upload failed")
        return JsonResponse(error_body(code="server_error", detail=GENERIC_FAILURE), status=500)
    note = result.note
    return JsonResponse(
        {
            "id": str(note.pk),
            "status": note.status,
            "stage": note.stage,
            "progress": note.progress,
            "url": reverse("web:notes_detail", kwargs={"pk": note.pk}),
            "progress_url": reverse("web:record_progress", kwargs={"pk": note.pk}),
            "allowance": recording_allowance(user=user),
        },
        status=201 if result.created else 200,
    )


@login_required
@require_POST
def text_note(request: HttpRequest) -> HttpResponse:
    user = web_user(request)
    key = idempotency.clean_key(request.POST.get("client_id"))
    result = note_services.note_create_from_text(user=user, text=request.POST.get("text", ""), idempotency_key=key)
    return render(request, "web/_text_saved.html", {"note": result.note})


# The steps the record page shows, in order; "Ready" is the end of the list.
STAGES = (NoteStage.UPLOADED, NoteStage.TRANSCRIBING, NoteStage.INDEXING, NoteStage.READY)
# What the page polls every second: a few plain columns, none of the encrypted text.
_PROGRESS_FIELDS = ("id", "user_id", "kind", "status", "stage", "progress", "failure_code", "failure_reason")


def progress_steps(*, note: Note) -> list[dict[str, str]]:
    """Each stage as done / current / todo (or failed: the step the note failed in)."""
    reached = STAGES.index(NoteStage(note.stage)) if note.stage in STAGES else 0
    steps = []
    for index, stage in enumerate(STAGES):
        if note.status == NoteStatus.READY or index < reached:
            state = "done"
        elif index == reached:
            state = "failed" if note.status == NoteStatus.FAILED else "current"
        else:
            state = "todo"
        if stage == NoteStage.TRANSCRIBING and note.kind != NoteKind.VOICE:
            continue  # typed notes have nothing to transcribe
        steps.append({"key": stage.value, "label": stage.label, "state": state})
    return steps


@login_required
@require_GET
def note_progress(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The record page's status panel for one of the user's notes, polled while it is processing;
    the title and transcript come with it once the note is ready."""
    user = web_user(request)
    note = Note.objects.filter(user=user, pk=pk).only(*_PROGRESS_FIELDS).first()
    if note is None:
        raise NotFound("Note not found.")
    if note.status == NoteStatus.READY:
        note = Note.objects.get(pk=note.pk)  # now the text is worth decrypting
    context = {
        "note": note,
        "steps": progress_steps(note=note),
        "failure_message": note_services.FAILURE_MESSAGES.get(note.failure_code, note.failure_reason),
    }
    return render(request, "web/_record_progress.html", context)
