"""Domain errors in the web app: one mapping to HTTP (AppErrorMiddleware → error_fragment for
pages, app_error_json for the JSON endpoints), the same error body as the API."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client, RequestFactory

from mindpost.accounts.models import User
from mindpost.core.errors import Conflict, NotFound
from mindpost.web.middleware import AppErrorMiddleware

HX = {"HX-Request": "true"}


def test_htmx_gets_the_fragment_with_the_errors_status(web: Client) -> None:
    response = web.post("/record/text/", {"text": "   "}, headers=HX)
    assert 400 <= response.status_code < 500
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "data-code=" in html  # app.js reads the code of an error it has to toast
    assert "<html" not in html  # a fragment, swapped into its target


def test_without_htmx_the_same_error_is_a_page(web: Client) -> None:
    response = web.post("/record/text/", {"text": "   "})
    assert 400 <= response.status_code < 500
    html = response.content.decode()
    assert "That did not work" in html
    assert "app.css" in html


def test_unknown_network_is_a_404_page(web: Client) -> None:
    assert Client().get("/settings/connections/myspace/callback/").status_code == 404
    response = web.post("/settings/connections/myspace/connect/")
    assert response.status_code == 404
    assert b"app.css" in response.content


def test_missing_chat_message_is_a_404(web: Client, user: User) -> None:
    from mindpost.chat.models import Conversation

    conversation = Conversation.objects.create(user=user)
    assert web.get(f"/chat/{conversation.pk}/messages/{uuid.uuid4()}/").status_code == 404


def test_the_middleware_leaves_the_api_and_other_exceptions_alone() -> None:
    middleware = AppErrorMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    api = RequestFactory().get("/api/posts/")
    assert middleware.process_exception(api, NotFound("Post not found.")) is None
    page = RequestFactory().get("/posts/")
    assert middleware.process_exception(page, ValueError("a bug")) is None


def test_the_middleware_renders_a_domain_error_with_its_status(rf: RequestFactory, user: User) -> None:
    request = rf.post("/posts/", headers=HX)
    request.user = user
    request.htmx = True  # type: ignore[attr-defined]  # what django-htmx sets
    response = AppErrorMiddleware(lambda request: None).process_exception(  # type: ignore[arg-type,return-value]
        request, Conflict("It is already on its way.", code="already_publishing")
    )
    assert response is not None
    assert response.status_code == 409
    assert b"It is already on its way." in response.content
    assert b'data-code="already_publishing"' in response.content


def test_upload_error_has_the_api_error_shape(web: Client) -> None:
    response = web.post("/record/upload/")
    assert response.status_code == 400
    assert response.json() == {"code": "audio_missing", "detail": "Choose or record some audio first.", "fields": {}}


@pytest.mark.django_db(transaction=True)
def test_chat_stream_with_the_model_down_is_a_503_before_any_event(
    web: Client, user: User, openai_backends: Any, settings: Any, tmp_path: Any
) -> None:
    from mindpost.notes import services as note_services

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    note = note_services.note_create_from_text(
        user=user, text="The lighthouse restoration needs a bigger budget", idempotency_key=None
    ).note
    note_services.note_process(note_id=note.pk, final_attempt=True)
    openai_backends.fail("/v1/chat/completions", status=503, times=10)

    response = web.post("/chat/send/", {"message": "The lighthouse restoration needs a bigger budget?"})

    # As from the API: a status the page's script can read, not a 200 stream that ends in an error.
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "model_unavailable"
    assert set(body) >= {"code", "detail", "fields"}
    assert response["Retry-After"]
