"""Issue 15, bug 1: listening to a note while it is still processing.

The note page polls while the note is processing. Only the status and the transcript are
refreshed: the <audio> element is never swapped, so playback keeps its position and the
recording is not requested again."""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile

from mindpost.core.encrypted_storage import EncryptedStorage
from mindpost.notes import storage
from mindpost.notes.models import NoteKind, NoteStatus
from tests.factories import NoteFactory

POLLS = """() => {
    window.mpPolls = 0;
    document.body.addEventListener("htmx:afterSettle", (event) => {
        if (event.detail.target && event.detail.target.id === "note-body") window.mpPolls += 1;
    });
    return true;
}"""


def store_recording(*, stack: Any, note: Any, audio: bytes) -> None:
    """Save `audio` as the note's recording where the stack's processes read it (their MEDIA_ROOT)."""
    from django.conf import settings

    location = str(stack.var_dir / "media")
    inner = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": location}}
    files = EncryptedStorage(inner=inner, encrypt=settings.FILE_ENCRYPTION)
    name = storage.audio_path(user_id=note.user_id, note_id=note.pk, audio_format="wav")
    note.audio = files.save(name, ContentFile(audio))
    note.audio_format = "wav"
    note.save(update_fields=["audio", "audio_format"])


def test_playback_survives_polling_and_the_note_turning_ready(alice: Any, speech_wav: Any) -> None:
    page = alice.page
    note = NoteFactory.create(
        user=alice.user, kind=NoteKind.VOICE, status=NoteStatus.PROCESSING, text="Dinner plans.", transcription=""
    )
    store_recording(stack=alice.stack, note=note, audio=speech_wav.read_bytes())
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))

    page.goto(f"{alice.stack.url}/notes/{note.pk}/", wait_until="domcontentloaded")
    page.locator(".badge-amber", has_text="Processing").wait_for()
    page.evaluate(POLLS)
    # Muted playback needs no user gesture; the point is the element's state, not the sound.
    page.evaluate(
        """async () => {
            const audio = document.querySelector("audio");
            audio.mpMarker = "original";
            audio.muted = true;
            await audio.play();
            audio.currentTime = 2;
        }"""
    )
    # Chromium may cancel its first range request itself while it starts playing; count from here.
    page.wait_for_timeout(500)
    failed.clear()
    alice.wait_until("() => window.mpPolls >= 2", timeout=30)
    state = page.evaluate(
        """() => { const a = document.querySelector("audio");
                   return {marker: a.mpMarker || null, time: a.currentTime, paused: a.paused}; }"""
    )
    assert state["marker"] == "original", "the <audio> element was replaced by the poll"
    assert state["time"] >= 2, state
    assert not state["paused"], state
    assert page.locator("audio").count() == 1

    # The note turns ready: the next poll brings the transcript and the details, and stops polling.
    note.transcription = "Remember the basil for the pasta dinner."
    note.status = NoteStatus.READY
    note.duration_seconds = 9
    note.save(update_fields=["transcription", "status", "duration_seconds"])
    page.locator(".badge-green", has_text="Ready").wait_for(timeout=30_000)
    page.locator("#note-transcript", has_text="basil").wait_for()
    page.get_by_role("heading", name="Create a post").wait_for()
    assert page.evaluate("() => document.querySelector('audio').mpMarker") == "original"
    assert page.evaluate("() => document.querySelector('audio').currentTime") >= 2
    assert page.locator("audio").count() == 1
    assert page.locator("#note-body [hx-trigger]").count() == 0  # polling stopped
    # Each swap of the old page cancelled the recording's request.
    assert not [url for url in failed if "/recording/" in url], failed
    alice.assert_clean()
