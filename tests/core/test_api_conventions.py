from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, RequestFactory
from rest_framework.request import Request
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.core.pagination import PageNumberPagination
from tests.conftest import bearer

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= {"code", "detail", "fields"}
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def test_malformed_json(api: APIClient) -> None:
    response = api.post("/api/auth/register/", data="{not json", content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_wrong_field_type(api: APIClient) -> None:
    response = api.post("/api/auth/register/", {"email": ["a@example.com"], "password": {"x": 1}}, format="json")
    body = assert_error(response, 400, "invalid")
    assert set(body["fields"]) == {"email", "password"}


def test_json_body_that_is_not_an_object(api: APIClient) -> None:
    response = api.post("/api/auth/register/", data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid", "malformed_request"}


def test_unsupported_media_type(api: APIClient) -> None:
    response = api.post("/api/auth/register/", data="<x/>", content_type="application/xml")
    assert_error(response, 415, "unsupported_media_type")


def test_wrong_method(api: APIClient, user: User) -> None:
    bearer(api, email=user.email)
    assert_error(api.put("/api/me/", {}, format="json"), 405, "method_not_allowed")
    assert_error(api.get("/api/auth/register/"), 405, "method_not_allowed")


def test_missing_and_bad_token(api: APIClient) -> None:
    assert_error(api.get("/api/me/"), 401, "not_authenticated")
    api.credentials(HTTP_AUTHORIZATION="Bearer abc")
    assert_error(api.get("/api/me/"), 401, "token_not_valid")
    api.credentials(HTTP_AUTHORIZATION="Basic abc")
    assert_error(api.get("/api/me/"), 401, "not_authenticated")


def test_unknown_api_url_is_json_404(client: Client) -> None:
    response = client.get("/api/does-not-exist/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_unknown_page_is_html_404(client: Client) -> None:
    response = client.get("/nowhere/")
    assert response.status_code == 404
    assert b"Not found" in response.content
    assert response["Content-Type"].startswith("text/html")


def test_unhandled_error_is_json_500_without_trace() -> None:
    from django.test import override_settings

    from config import urls

    def boom(request):
        raise RuntimeError("secret internals")

    from django.urls import path

    patterns = [path("api/boom/", boom), *urls.urlpatterns]
    module = type(sys)("boom_urls")
    setattr(module, "urlpatterns", patterns)  # noqa: B010
    setattr(module, "handler500", urls.handler500)  # noqa: B010
    sys.modules["boom_urls"] = module
    with override_settings(ROOT_URLCONF="boom_urls"):
        client = Client(raise_request_exception=False)
        response = client.get("/api/boom/")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert b"secret internals" not in response.content


def test_pagination_honours_page_size(make_user) -> None:
    for _ in range(25):
        make_user()
    paginator = PageNumberPagination()
    request = Request(RequestFactory().get("/", {"page_size": 7, "page": 2}))
    page = paginator.paginate_queryset(User.objects.order_by("email"), request)
    assert page is not None
    assert len(page) == 7
    body = paginator.get_paginated_response([]).data
    assert body["count"] == 25
    assert "page=3" in body["next"]

    request = Request(RequestFactory().get("/", {"page_size": 1000}))
    assert len(paginator.paginate_queryset(User.objects.all(), request) or []) == 25  # capped at 100
    request = Request(RequestFactory().get("/"))
    assert len(paginator.paginate_queryset(User.objects.all(), request) or []) == 20


def test_schema_and_docs(client: Client) -> None:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/token/" in response.content
    assert client.get("/api/docs/").status_code == 200


def test_schema_builds_without_warnings() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--fail-on-warn", "--validate", "--file", "/dev/null"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


# --- Issue 17 item 12: the schema documents pagination, errors, and one shape per field -----


@pytest.fixture(scope="module")
def openapi() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize("path", ["/api/brain-dumps/", "/api/posts/", "/api/chat/conversations/"])
def test_paginated_lists_document_the_envelope(openapi: dict, path: str) -> None:
    ref = openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    envelope = openapi["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert envelope["required"] == ["count", "next", "previous", "results"]
    assert envelope["properties"]["results"]["type"] == "array"
    assert envelope["properties"]["next"]["nullable"] is True
    assert "404" in openapi["paths"][path]["get"]["responses"]  # a page past the end


def test_pagination_schema_matches_the_response(make_user) -> None:
    make_user()
    paginator = PageNumberPagination()
    paginator.paginate_queryset(User.objects.all(), Request(RequestFactory().get("/")))
    body = paginator.get_paginated_response([]).data
    assert list(body) == paginator.get_paginated_response_schema({"type": "array"})["required"]


def test_no_ambiguous_one_of(openapi: dict) -> None:
    import json

    assert "oneOf" not in json.dumps(openapi)
    language = openapi["components"]["schemas"]["NoteSettings"]["properties"]["transcription_language"]
    assert language["type"] == "string"
    assert language["maxLength"] == 16


def test_note_settings_still_take_an_empty_language(auth_api: APIClient) -> None:
    response = auth_api.patch("/api/brain-dumps/settings/", {"transcription_language": ""}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["transcription_language"] == ""
    assert_error(
        auth_api.patch("/api/brain-dumps/settings/", {"transcription_language": "  "}, format="json"), 400, "invalid"
    )


def test_every_operation_documents_its_errors_with_the_error_component(openapi: dict) -> None:
    error = openapi["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "detail", "fields"]
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            errors = {code for code in responses if code >= "400"}
            assert errors, f"{method} {path} documents no error"
            if operation.get("security") != [{}] and any("jwtAuth" in s for s in operation.get("security", [])):
                assert "401" in responses, f"{method} {path}"
            if "requestBody" in operation:
                assert {"400", "415"} <= errors, f"{method} {path}"
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                assert "404" in errors, f"{method} {path}"
    me = openapi["paths"]["/api/me/"]["get"]["responses"]
    assert set(me) >= {"200", "401", "429"}
    assert me["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_error_codes_in_the_schema_match_docs_api_md() -> None:
    import re

    from mindpost.core.schema import ERROR_CODES

    text = (ROOT / "docs" / "api.md").read_text()
    conventions = text.split("## Conventions", 1)[1].split("\n## ", 1)[0]
    documented = {code: int(status) for code, status in re.findall(r"^\| `(\w+)` \| (\d{3}) \|", conventions, re.M)}
    assert documented == {code: status for code, (status, _) in ERROR_CODES.items()}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/connections/a b/"),  # the <slug:> converter refuses it: no route matches
        ("get", "/api/brain-dumps/not-a-uuid/"),
        ("post", "/api/nothing/here/"),
        ("get", "/api/nothing"),
    ],
)
def test_unmatched_api_urls_are_json_404_even_in_debug(
    client: Client, settings, debug: bool, method: str, path: str
) -> None:
    settings.DEBUG = debug  # with DEBUG, Django's HTML technical 404 used to answer
    response = getattr(client, method)(path)
    assert response["Content-Type"] == "application/json"
    assert_error(response, 404, "not_found")


def test_append_slash_redirect_still_works_for_api_routes(client: Client) -> None:
    response = client.get("/api/me?x=1")
    assert response.status_code == 301
    assert response["Location"] == "/api/me/?x=1"
