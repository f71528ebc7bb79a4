"""Web pages through Django's test client: sign-in walls, per-user isolation, each action's
happy path and its human error message. The browser tests (tests/browser/) cover behaviour."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from mindpost.accounts.models import User
from mindpost.chat import services as chat_services
from mindpost.notes import services as note_services
from mindpost.notes.models import Note, NoteStatus
from mindpost.posts.models import Post, PostStatus

HX = {"HX-Request": "true"}


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> Any:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    return tmp_path


@pytest.fixture
def ready_note(openai_backends: Any, media: Any) -> Callable[..., Note]:
    def make(user: User, text: str) -> Note:
        note = note_services.note_create_from_text(user=user, text=text, idempotency_key=None).note
        note_services.note_process(note_id=note.pk, final_attempt=True)
        note.refresh_from_db()
        assert note.status == NoteStatus.READY
        return note

    return make


PAGES = ["/record/", "/notes/", "/chat/", "/posts/", "/posts/compose/", "/settings/"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_sign_in(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_for_a_new_user(web: Client, path: str) -> None:
    response = web.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-current="page"' in html  # the section is marked in the navigation
    # No inline scripts: every <script> is a static file carrying the CSP nonce.
    assert "<script>" not in html
    assert "{#" not in html  # a template comment leaking into the page
    assert response["Content-Security-Policy"].count("'unsafe-eval'") == 0


def test_landing_sends_signed_in_users_to_record(client: Client, web: Client) -> None:
    assert client.get("/").status_code == 200
    assert web.get("/")["Location"] == "/record/"


def test_reference_paths_redirect(web: Client) -> None:
    assert web.get("/record/brain-dumps/")["Location"] == "/notes/"
    note_id = uuid.uuid4()
    assert web.get(f"/record/brain-dump/{note_id}/")["Location"] == f"/notes/{note_id}/"


def test_error_pages_in_product_style(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Not found" in response.content
    assert b"app.css" in response.content


# --- record ----------------------------------------------------------------------------------


def test_upload_without_audio_is_a_human_error(web: Client) -> None:
    response = web.post("/record/upload/")
    assert response.status_code == 400
    assert response.json()["detail"] == "Choose or record some audio first."


def test_upload_rejects_non_audio_with_its_message(web: Client, media: Any) -> None:
    upload = io.BytesIO(b"this is not audio at all" * 50)
    upload.name = "notes.txt"
    response = web.post("/record/upload/", {"audio_file": upload})
    assert 400 <= response.status_code < 500
    body = response.json()
    assert body["code"]
    assert body["detail"]
    assert Note.objects.count() == 0


def test_upload_stores_a_recording_once_per_client_id(web: Client, user: User, media: Any) -> None:
    from tests.notes import audio_files

    wav = audio_files.wav_bytes(audio_files.tone(1.5))
    first = web.post("/record/upload/", {"audio_file": _named(wav, "a.wav")}, headers={"Idempotency-Key": "rec-1"})
    again = web.post("/record/upload/", {"audio_file": _named(wav, "a.wav")}, headers={"Idempotency-Key": "rec-1"})
    assert first.status_code == 201, first.content
    assert again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Note.objects.filter(user=user).count() == 1
    assert first.json()["url"] == f"/notes/{first.json()['id']}/"


def _named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_typed_note_is_saved_and_shown(web: Client, user: User) -> None:
    response = web.post("/record/text/", {"text": "Call the plumber about the leak #home"}, headers=HX)
    assert response.status_code == 200
    note = Note.objects.get(user=user)
    assert f"/notes/{note.pk}/" in response.content.decode()
    empty = web.post("/record/text/", {"text": "   "}, headers=HX)
    assert empty.status_code == 400
    assert b"alert" in empty.content


# --- notes -----------------------------------------------------------------------------------


def test_notes_list_groups_by_day_and_filters_by_tag(web: Client, user: User, ready_note: Callable[..., Note]) -> None:
    ready_note(user, "Buy tomatoes and basil for dinner #cooking")
    ready_note(user, "The lighthouse budget needs review #work")
    html = web.get("/notes/").content.decode()
    assert "tomatoes" in html
    assert "lighthouse" in html
    assert "#cooking" in html  # tag chip
    filtered = web.get("/notes/?tag=cooking").content.decode()
    assert "Buy tomatoes" in filtered
    assert "The lighthouse budget" not in filtered


def test_search_partial_highlights_matches(web: Client, user: User, ready_note: Callable[..., Note]) -> None:
    ready_note(user, "Buy tomatoes and basil for the pasta dinner")
    ready_note(user, "Quarterly planning for the lighthouse project")
    response = web.get("/notes/?q=tomatoes", headers={**HX, "HX-Target": "note-results"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<mark>tomatoes</mark>" in html
    assert "lighthouse" not in html
    nothing = web.get("/notes/?q=zeppelin", headers={**HX, "HX-Target": "note-results"}).content.decode()
    assert "Nothing found" in nothing


def test_other_users_notes_are_not_found(
    web: Client, make_user: Callable[..., User], ready_note: Callable[..., Note]
) -> None:
    other = ready_note(make_user("eve@example.com"), "Eve's secret plan")
    for path in (f"/notes/{other.pk}/", f"/notes/{other.pk}/row/"):
        assert web.get(path).status_code == 404
    for path in (f"/notes/{other.pk}/transcript/", f"/notes/{other.pk}/retry/", f"/notes/{other.pk}/delete/"):
        assert web.post(path, {"transcription": "mine now"}).status_code == 404
    other.refresh_from_db()
    assert other.transcription == "Eve's secret plan"
    assert "secret" not in web.get("/notes/").content.decode()


def test_note_detail_edit_retry_delete(web: Client, user: User, ready_note: Callable[..., Note]) -> None:
    note = ready_note(user, "First draft of the idea")
    assert "First draft of the idea" in web.get(f"/notes/{note.pk}/").content.decode()
    edited = web.post(f"/notes/{note.pk}/transcript/", {"transcription": "Second draft of the idea"}, headers=HX)
    assert "Transcript saved" in edited.content.decode()
    note.refresh_from_db()
    assert note.transcription == "Second draft of the idea"
    assert note.edited
    retry = web.post(f"/notes/{note.pk}/retry/", headers=HX)
    assert retry.status_code == 409
    assert "Only a failed note can be retried." in retry.content.decode()
    deleted = web.post(f"/notes/{note.pk}/delete/", headers=HX)
    assert deleted.status_code == 204
    assert deleted["HX-Redirect"] == "/notes/?deleted=1"
    assert not Note.objects.filter(pk=note.pk).exists()


def test_failed_note_can_be_retried(web: Client, user: User, media: Any) -> None:
    note = note_services.note_create_from_text(user=user, text="Retry me", idempotency_key=None).note
    Note.objects.filter(pk=note.pk).update(status=NoteStatus.FAILED, failure_code="embedding_failed")
    page = web.get(f"/notes/{note.pk}/").content.decode()
    assert "could not be indexed" in page
    response = web.post(f"/notes/{note.pk}/retry/", headers={**HX, "HX-Target": "note-body"})
    assert response.status_code == 200
    note.refresh_from_db()
    assert note.status == NoteStatus.PROCESSING


# --- chat ------------------------------------------------------------------------------------


def test_chat_conversation_pages_and_isolation(
    web: Client, user: User, make_user: Callable[..., User], ready_note: Callable[..., Note], openai_backends: Any
) -> None:
    ready_note(user, "I met Nikos in Nafplio; he builds wooden boats")
    openai_backends.chat_reply = "You met Nikos in Nafplio; he builds wooden boats."
    response = web.post("/chat/send/plain/", {"message": "I met Nikos in Nafplio, he builds wooden boats?"})
    assert response.status_code == 302
    page = web.get(response["Location"]).content.decode()
    assert "Nikos" in page
    assert 'class="citation"' in page
    other = make_user("eve@example.com")
    prepared = chat_services.chat_prepare(user=other, message="anything at all?")
    reply = chat_services.chat_complete(prepared=prepared)
    assert web.get(f"/chat/{reply.conversation_id}/").status_code == 404
    assert web.get(f"/chat/{reply.conversation_id}/messages/{reply.message_id}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_chat_stream_sends_tokens_then_done(web: Client, user: User, ready_note: Callable[..., Note]) -> None:
    import asyncio

    from django.test import AsyncClient

    ready_note(user, "The lighthouse restoration needs a bigger budget")

    async def collect() -> bytes:
        # One event loop for the request and its stream, as under ASGI: the model's stream is
        # opened by the view and read by the response.
        from asgiref.sync import sync_to_async
        from django.db import connections

        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.post("/chat/send/", {"message": "The lighthouse restoration needs a bigger budget?"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/event-stream")
        body = b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[attr-defined]
        await sync_to_async(connections.close_all)()  # the worker thread's connection
        return body

    body = asyncio.run(collect()).decode()
    events = [block.split("\n")[0].removeprefix("event: ") for block in body.strip().split("\n\n")]
    assert events[:2] == ["start", "sources"]
    assert events[-1] == "done"
    assert "token" in events
    sources = json.loads(body.strip().split("\n\n")[1].split("data: ", 1)[1])["sources"]
    assert "lighthouse" in sources[0]["excerpt"]
    done = json.loads(body.strip().split("\n\n")[-1].split("data: ", 1)[1])
    message = web.get(done["message_url"], headers=HX)
    assert message.status_code == 200


def test_chat_says_nothing_found(web: Client, user: User, openai_backends: Any) -> None:
    response = web.post("/chat/send/plain/")
    assert response.status_code == 400  # an empty question is a human error, not a crash
    response = web.post("/chat/send/plain/", {"message": "Where did I park?"})
    page = web.get(response["Location"]).content.decode()
    assert "Nothing found in your notes" in page


def test_chat_stream_needs_a_session(client: Client) -> None:
    assert client.post("/chat/send/", {"message": "hi"}).status_code in (401, 403)


# --- compose and posts -------------------------------------------------------------------------


def test_counter_uses_weighted_length(web: Client) -> None:
    html = web.post("/posts/compose/count/", {"content": "🙂" * 150, "network": "x", "format": "single"}).content
    assert b'data-count="300"' in html
    assert b'data-over="true"' in html


def test_draft_and_schedule_and_isolation(web: Client, user: User, make_user: Callable[..., User]) -> None:
    created = web.post(
        "/posts/compose/create/", {"content": "Hello world", "network": "x", "action": "draft"}, headers=HX
    )
    assert created.status_code == 204
    post = Post.objects.get(user=user)
    assert created["HX-Redirect"] == f"/posts/{post.pk}/"
    assert post.status == PostStatus.DRAFT
    page = web.get(f"/posts/{post.pk}/").content.decode()
    assert "Hello world" in page
    assert "Connect your X account" in page
    # Scheduling with nothing connected is not refused: it becomes a reminder (posts/reminders.py).
    scheduled = web.post(
        f"/posts/{post.pk}/save/", {"content": "Hello world", "action": "schedule", "scheduled_at": _tomorrow()}
    )
    assert scheduled.status_code == 302
    post.refresh_from_db()
    assert post.status == PostStatus.SCHEDULED
    assert post.reminder.status == "queued"
    assert 'id="reminder-note"' in web.get(f"/posts/{post.pk}/").content.decode()
    # Another user's post is not there at all.
    other = make_user("eve@example.com")
    theirs = Post.objects.create(user=other, content="Eve's post")
    for path in (f"/posts/{theirs.pk}/", f"/posts/{theirs.pk}/save/", f"/posts/{theirs.pk}/publish/"):
        assert (web.get(path) if path.endswith(f"{theirs.pk}/") else web.post(path)).status_code == 404
    assert web.get("/posts/?status=draft").status_code == 200
    deleted = web.post(f"/posts/{post.pk}/delete/", headers=HX)
    assert deleted["HX-Redirect"] == "/posts/?deleted=1"


def _tomorrow() -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")


def test_empty_post_shows_human_message(web: Client) -> None:
    response = web.post("/posts/compose/create/", {"content": " ", "network": "x", "action": "draft"}, headers=HX)
    assert response.status_code == 400
    assert b"Content is required" in response.content


def test_generate_needs_notes(web: Client) -> None:
    response = web.post("/posts/compose/generate/", {"network": "x"}, headers=HX)
    assert response.status_code == 400
    assert b"Pick at least one ready note" in response.content


# --- settings --------------------------------------------------------------------------------


def test_settings_profile_audio_export_and_delete(web: Client, user: User) -> None:
    assert web.post("/settings/profile/", {"timezone": "Europe/Athens"}, headers=HX).status_code == 200
    user.refresh_from_db()
    assert user.timezone == "Europe/Athens"
    bad = web.post("/settings/profile/", {"timezone": "Mars/Olympus"}, headers=HX)
    assert bad.status_code == 400
    assert b"Unknown time zone" in bad.content
    assert (
        web.post("/settings/audio/", {"keep_audio": "0", "transcription_language": "el"}, headers=HX).status_code == 200
    )
    assert user.note_settings.keep_audio is False
    export = web.post("/settings/export/")
    assert export["Content-Type"] == "application/zip"
    wrong = web.post("/settings/delete/", {"password": "nope"}, headers=HX)
    assert wrong.status_code == 400
    assert User.objects.filter(pk=user.pk).exists()
    from tests.conftest import PASSWORD

    gone = web.post("/settings/delete/", {"password": PASSWORD}, headers=HX)
    assert gone["HX-Redirect"] == "/goodbye/"
    assert not User.objects.filter(pk=user.pk).exists()


def test_settings_shows_connections_and_plan(web: Client) -> None:
    html = web.get("/settings/?connection_status=error&network=x&code=access_denied").content.decode()
    assert "Connecting was cancelled." in html
    assert "no usage limits" in html


def test_times_show_in_the_users_time_zone(web: Client, user: User) -> None:
    from datetime import UTC, datetime

    user.timezone = "Europe/Athens"
    user.save(update_fields=["timezone"])
    post = Post.objects.create(
        user=user, content="Later", status=PostStatus.SCHEDULED, scheduled_at=datetime(2030, 1, 15, 7, 30, tzinfo=UTC)
    )
    html = web.get(f"/posts/{post.pk}/").content.decode()
    assert "09:30 (Europe/Athens)" in html  # UTC+2 in January
    assert 'value="2030-01-15T09:30"' in html  # the picker too


@pytest.fixture
def x_connected(settings: Any, user: User, media: Any) -> Any:
    """The user's X account, connected through the real OAuth flow against the loopback fake."""
    from urllib.parse import parse_qs, urlsplit

    from mindpost.posts import connections, networks
    from tests.fakes.x_server import FakeX

    fake = FakeX(client_id="x-client", client_secret="x-secret").start()
    settings.X_CLIENT_ID = fake.client_id
    settings.X_CLIENT_SECRET = fake.client_secret
    settings.X_API_BASE_URL = fake.base_url
    settings.X_AUTHORIZE_URL = f"{fake.base_url}/i/oauth2/authorize"
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 2.0
    fake.add_user("ada_l", name="Ada")
    network = networks.get("x")
    # The settings page's flow: started and finished by the same signed-in browser (its nonce).
    back = fake.approve(
        connections.authorization_start(user=user, network=network, client="web", browser_nonce="nonce-1")
    )
    query = {key: values[-1] for key, values in parse_qs(urlsplit(back).query).items()}
    result = connections.authorization_complete(
        network=network,
        state=query["state"],
        code=query["code"],
        error="",
        session_user_id=user.pk,
        session_nonces=["nonce-1"],
    )
    assert result.ok
    yield fake
    fake.stop()


def _png() -> io.BytesIO:
    from PIL import Image

    handle = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(handle, format="PNG")
    handle.seek(0)
    handle.name = "red.png"
    return handle


def test_publish_with_an_image_then_a_failure_and_retry(web: Client, user: User, x_connected: Any) -> None:
    response = web.post(
        "/posts/compose/create/",
        {"content": "Shipping the web app today", "network": "x", "action": "publish", "images": _png()},
        headers=HX,
    )
    post = Post.objects.get(user=user)
    assert response["HX-Redirect"] == f"/posts/{post.pk}/"
    assert post.status == PostStatus.PUBLISHED
    assert len(x_connected.tweets[-1].media_ids) == 1
    image = post.images.get()
    served = web.get(f"/posts/{post.pk}/images/{image.pk}/")
    assert served["Content-Type"] == "image/png"
    page = web.get(f"/posts/{post.pk}/").content.decode()
    assert "See it on X" in page
    # X is down: the post is kept as failed, with a human message and a retry.
    x_connected.fail_next("POST", "/2/tweets", status=403, body={"title": "Forbidden", "detail": "Not allowed"})
    web.post("/posts/compose/create/", {"content": "Second post", "network": "x", "action": "publish"}, headers=HX)
    failed = Post.objects.exclude(pk=post.pk).get(user=user)
    assert failed.status == PostStatus.FAILED
    listing = web.get("/posts/?status=failed").content.decode()
    assert "Retry" in listing
    retried = web.post(f"/posts/{failed.pk}/publish/", headers=HX)
    assert retried["HX-Redirect"] == f"/posts/{failed.pk}/"
    failed.refresh_from_db()
    assert failed.status == PostStatus.PUBLISHED
    poll = web.get(f"/posts/{failed.pk}/?poll=1", headers={**HX, "HX-Target": "post-status"})
    assert poll["HX-Refresh"] == "true"


def test_generate_shows_drafts(web: Client, user: User, ready_note: Callable[..., Note], openai_backends: Any) -> None:
    note = ready_note(user, "Fresh tomatoes and basil make the best pasta sauce")
    page = web.get(f"/posts/compose/?note_ids={note.pk}&length=medium")
    assert page.status_code == 200
    openai_backends.chat_reply = json.dumps(
        {"posts": [{"post_text": "Fresh tomatoes and basil: the best pasta sauce I know.", "topics": ["food"]}]}
    )
    drafts = web.post("/posts/compose/generate/", {"note_ids": str(note.pk), "length": "short"}, headers=HX)
    assert "Use draft 1" in drafts.content.decode()
    assert web.get(f"/posts/compose/?note_ids={uuid.uuid4()}").status_code == 404


def test_conversation_can_be_deleted(web: Client, user: User, openai_backends: Any) -> None:
    reply = chat_services.chat_complete(prepared=chat_services.chat_prepare(user=user, message="Anything?"))
    sidebar = web.get(f"/chat/{reply.conversation_id}/", headers={**HX, "HX-Target": "conversation-list"})
    assert "Anything?" in sidebar.content.decode()
    deleted = web.post(f"/chat/{reply.conversation_id}/delete/", headers=HX)
    assert deleted["HX-Redirect"] == "/chat/"
    assert web.get(f"/chat/{reply.conversation_id}/").status_code == 404
