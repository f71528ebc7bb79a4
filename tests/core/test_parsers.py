"""Input limits on client JSON (mindpost.core.parsers): nesting depth and valid Unicode text.

Before the fix, 100,000 "[" raised RecursionError inside json.loads (a 500, even on the
signed-out endpoints), and "\\ud800" in a text reached the encryption, whose UTF-8 encode
raised UnicodeEncodeError (a 500 after a half-done request).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import stripe
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.billing.models import StripeEvent
from mindpost.chat.models import Conversation, Message
from mindpost.core import parsers
from mindpost.core.errors import Invalid, http_status
from mindpost.notes.models import Note, NoteKind, NoteStatus
from tests.billing.conftest import WEBHOOK_SECRET
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

DEEP = b"[" * 100_000
DEEP_OBJECT = b'{"text": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001
LONE = b'"hi \\ud800 there"'  # the JSON escape, sent literally
EMOJI = "\U0001f600"


def post_raw(client: APIClient, path: str, body: bytes, *, method: str = "POST", **headers: Any) -> Any:
    return client.generic(method, path, body.decode(), content_type="application/json", **headers)


def assert_error(response: Any, code: str) -> dict[str, Any]:
    assert response.status_code == 400, response.content[:300]
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "detail", "fields"}
    assert body["code"] == code, body
    return body


# --- the helper ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        DEEP,
        DEEP_OBJECT,
        b"[" * 65 + b"]" * 65,  # well-formed, one level too deep
        b'{"a": ' + b"[" * 100_000,  # unterminated
        b'["' + b'\\"' * 50_000 + b'"' + b"[" * 100,  # escaped quotes before the deep part
    ],
    ids=["arrays", "objects", "65-levels", "unterminated", "after-escapes"],
)
def test_too_deep_is_malformed(raw: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        parsers.loads_request_json(raw)
    assert caught.value.code == parsers.MALFORMED
    assert http_status(caught.value) == 400


def test_depth_limit_is_exact_and_brackets_in_strings_do_not_count() -> None:
    assert parsers.loads_request_json(b"[" * 64 + b"]" * 64) is not None
    text = "[" * 100_000 + "{" * 10
    assert parsers.loads_request_json(json.dumps({"text": text}).encode()) == {"text": text}
    tricky = json.dumps(['a \\" [[[', "]]]" * 40, {"k": "\\"}, "[" * 80])
    assert parsers.loads_request_json(tricky) == json.loads(tricky)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"text": ' + LONE + b"}", "text"),
        (b'{"parts": ["ok", ' + LONE + b"]}", "parts"),
        (b'{"a": {"b": [' + LONE + b"]}}", "a"),
        (b'{"\\udc00": 1}', None),  # keys too
        (b'{"text": "\\ude00\\ud83d"}', "text"),  # a pair in the wrong order is two lone halves
        (LONE, None),
    ],
)
def test_lone_surrogates_are_invalid_text(raw: bytes, field: str | None) -> None:
    with pytest.raises(Invalid) as caught:
        parsers.loads_request_json(raw)
    assert caught.value.code == parsers.INVALID_TEXT
    assert list(caught.value.fields) == ([field] if field else [])


def test_surrogate_from_an_odd_charset_is_caught_too() -> None:
    with pytest.raises(Invalid) as caught:
        parsers.loads_request_json(b'{"text": "+2AA-"}', encoding="utf-7")
    assert caught.value.code == parsers.INVALID_TEXT


def test_valid_astral_text_passes() -> None:
    assert parsers.loads_request_json(b'{"t": "\\ud83d\\ude00"}') == {"t": EMOJI}
    assert parsers.loads_request_json(json.dumps({"t": EMOJI}, ensure_ascii=False).encode()) == {"t": EMOJI}
    assert parsers.loads_request_json(b'{"t": "\\\\ud800"}') == {"t": "\\ud800"}  # an escaped backslash


@pytest.mark.parametrize("raw", [b"{", b"NaN", b'{"a": Infinity}', b"\xff\xfe", b'{"a": 1}{'])
def test_not_json_is_malformed(raw: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        parsers.loads_request_json(raw)
    assert caught.value.code == parsers.MALFORMED


# --- every JSON endpoint: deep nesting ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [
        ("/api/token/", False),
        ("/api/token/refresh/", False),
        ("/api/auth/register/", False),
        ("/api/auth/password-reset/", False),
        ("/api/brain-dumps/", True),
        ("/api/brain-dumps/chat/", True),
        ("/api/chat/conversations/", True),
        ("/api/posts/", True),
        ("/api/posts/generate_from_dumps/", True),
    ],
)
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
def test_deep_json_is_400_malformed_request(
    api: APIClient, user: User, path: str, signed_in: bool, body: bytes
) -> None:
    if signed_in:
        api.force_authenticate(user)
    body_out = assert_error(post_raw(api, path, body), "malformed_request")
    assert "deeper than 64" in body_out["detail"]


def test_deep_json_in_a_patch(auth_api: APIClient, user: User) -> None:
    note = Note.objects.create(user=user, kind=NoteKind.TEXT, status=NoteStatus.READY, transcription="Before.")
    assert_error(post_raw(auth_api, f"/api/brain-dumps/{note.pk}/", DEEP, method="PATCH"), "malformed_request")
    note.refresh_from_db()
    assert note.transcription == "Before."


def test_deep_json_in_a_multipart_list_field(auth_api: APIClient) -> None:
    # posts/serializers.py reads a JSON list out of a form field with the same helper.
    response = auth_api.post("/api/posts/", {"content": "Hello", "parts": "[" * 100_000}, format="multipart")
    assert response.status_code == 400, response.content[:300]
    response = auth_api.post("/api/posts/", {"parts": '["fine", "\\ud800"]'}, format="multipart")
    assert_error(response, "invalid_text")


def test_signed_deep_webhook_is_400_with_the_error_shape(api: APIClient, settings: Any) -> None:
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    payload = DEEP.decode()
    header = stripe.WebhookSignature.generate_signature_header(payload=payload, secret=WEBHOOK_SECRET)
    response = api.generic(
        "POST", "/api/billing/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    body = assert_error(response, "invalid_payload")
    assert "deeper than 64" in body["detail"]
    assert not StripeEvent.objects.exists()
    # Unsigned, it never reaches the parser.
    forged = api.generic(
        "POST", "/api/billing/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=x"
    )
    assert_error(forged, "invalid_signature")


@pytest.mark.django_db(transaction=True)
def test_deep_json_over_real_http_to_sign_in(live_server: Any) -> None:
    request = urllib.request.Request(
        f"{live_server.url}/api/token/", data=DEEP, headers={"Content-Type": "application/json"}, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["code"] == "malformed_request"


# --- every text input: lone surrogates --------------------------------------------------------


def test_text_note_with_a_lone_surrogate_is_400_and_nothing_is_stored(auth_api: APIClient) -> None:
    body = assert_error(post_raw(auth_api, "/api/brain-dumps/", b'{"text": ' + LONE + b"}"), "invalid_text")
    assert body["fields"] == {"text": [body["detail"]]}
    assert not Note.objects.exists()


def test_note_edit_with_a_lone_surrogate_is_400_and_nothing_changes(auth_api: APIClient, user: User) -> None:
    note = Note.objects.create(user=user, kind=NoteKind.TEXT, status=NoteStatus.READY, transcription="Before.")
    for method in ("PATCH", "PUT"):
        body = b'{"transcription": ' + LONE + b"}"
        response = post_raw(auth_api, f"/api/brain-dumps/{note.pk}/", body, method=method)
        assert_error(response, "invalid_text")
    note.refresh_from_db()
    assert note.transcription == "Before."
    assert not note.edited


def test_chat_message_with_a_lone_surrogate_is_400_and_nothing_is_stored(auth_api: APIClient, user: User) -> None:
    assert_error(post_raw(auth_api, "/api/brain-dumps/chat/", b'{"message": ' + LONE + b"}"), "invalid_text")
    conversation = Conversation.objects.create(user=user, title="Travel")
    response = post_raw(auth_api, f"/api/chat/conversations/{conversation.pk}/messages/", b'{"message": ' + LONE + b"}")
    assert_error(response, "invalid_text")
    assert not Message.objects.exists()
    assert list(Conversation.objects.values_list("pk", flat=True)) == [conversation.pk]


def test_conversation_title_with_a_lone_surrogate_is_400(auth_api: APIClient) -> None:
    assert_error(post_raw(auth_api, "/api/chat/conversations/", b'{"title": ' + LONE + b"}"), "invalid_text")
    assert not Conversation.objects.exists()


def test_registration_and_sign_in_with_a_lone_surrogate_are_400(api: APIClient) -> None:
    body = b'{"email": "ada\\ud800@example.com", "password": "' + PASSWORD.encode() + b'"}'
    assert_error(post_raw(api, "/api/auth/register/", body), "invalid_text")
    assert not User.objects.exists()
    assert_error(post_raw(api, "/api/token/", body), "invalid_text")


def test_astral_characters_are_accepted(auth_api: APIClient) -> None:
    escaped = post_raw(auth_api, "/api/brain-dumps/", b'{"text": "Sunny day \\ud83d\\ude00 at the beach"}')
    assert escaped.status_code == 201, escaped.content
    raw = post_raw(auth_api, "/api/brain-dumps/", json.dumps({"text": f"Rainy {EMOJI}"}, ensure_ascii=False).encode())
    assert raw.status_code == 201, raw.content
    texts = {note.transcription for note in Note.objects.all()}
    assert texts == {f"Sunny day {EMOJI} at the beach", f"Rainy {EMOJI}"}
    titled = post_raw(auth_api, "/api/chat/conversations/", b'{"title": "Ideas \\ud83d\\ude00"}')
    assert titled.status_code == 201, titled.content
    assert Conversation.objects.get(pk=titled.json()["id"]).title == f"Ideas {EMOJI}"


# --- form data and query strings: decoded with replacement, verified ---------------------------


def test_form_data_cannot_carry_a_surrogate(auth_api: APIClient) -> None:
    # %ED%A0%80 is the (invalid) UTF-8 spelling of U+D800; Django decodes it as U+FFFD.
    response = auth_api.generic(
        "POST", "/api/chat/conversations/", "title=a%ED%A0%80b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 201, response.content
    assert Conversation.objects.get().title == "a\ufffd\ufffd\ufffdb"
    form = "application/x-www-form-urlencoded"
    response = auth_api.post("/api/brain-dumps/", "text=note%ED%A0%80", content_type=form)
    assert response.status_code == 201, response.content
    assert "\ud800" not in Note.objects.get().transcription


def test_query_string_cannot_carry_a_surrogate(auth_api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    class Embedder:
        model_name = "stub"
        dimensions = 384

        def embed_query(self, text: str) -> list[float]:
            seen.append(text)
            return [1.0] + [0.0] * 383

    monkeypatch.setattr("mindpost.notes.search.get_embedder", lambda: Embedder())
    response = auth_api.get("/api/search/?q=boats%ED%A0%80")
    assert response.status_code == 200, response.content
    assert seen
    assert all("\ud800" not in text and text.encode() for text in seen)


# --- defence in depth ----------------------------------------------------------------------


def test_encrypted_field_names_the_problem_instead_of_a_bare_unicode_error(user: User) -> None:
    with pytest.raises(ValueError, match=r"Conversation\.title: the text is not valid Unicode") as caught:
        Conversation.objects.create(user=user, title="x\ud800")
    assert not isinstance(caught.value, UnicodeError)
