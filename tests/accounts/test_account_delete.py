"""`/api/account/delete/` needs the current password besides the bearer token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db

URL = "/api/account/delete/"


@pytest.fixture
def doomed(make_user: Callable[..., User]) -> User:
    return make_user("doomed@example.com")


def signed_in(user: User) -> APIClient:
    client = APIClient()
    bearer(client, email=user.email)
    return client


@pytest.mark.parametrize("method", ["post", "delete"])
@pytest.mark.parametrize("body", [{}, {"password": ""}, {"refresh_token": "x"}])
def test_without_password_is_400_and_nothing_is_deleted(doomed: User, method: str, body: dict[str, str]) -> None:
    client = signed_in(doomed)
    response = getattr(client, method)(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "password" in response.json()["fields"]
    assert User.objects.filter(pk=doomed.pk).exists()
    assert client.get("/api/me/").status_code == 200


@pytest.mark.parametrize("method", ["post", "delete"])
def test_with_wrong_password_is_403_and_nothing_is_deleted(doomed: User, method: str) -> None:
    client = signed_in(doomed)
    response = getattr(client, method)(URL, {"password": PASSWORD + "x"}, format="json")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "wrong_password"
    assert "password" in body["fields"]
    assert User.objects.filter(pk=doomed.pk).exists()
    assert client.get("/api/me/").status_code == 200  # and still signed in


@pytest.mark.parametrize("method", ["post", "delete"])
def test_with_the_right_password_the_account_is_deleted(
    doomed: User, make_user: Callable[..., User], method: str, django_capture_on_commit_callbacks
) -> None:
    keeper = make_user("keeper@example.com")
    client = signed_in(doomed)
    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(client, method)(URL, {"password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "success"
    assert not User.objects.filter(pk=doomed.pk).exists()
    assert User.objects.filter(pk=keeper.pk).exists()
    assert client.get("/api/me/").status_code == 401


def test_needs_a_token(api: APIClient, doomed: User) -> None:
    assert api.post(URL, {"password": PASSWORD}, format="json").status_code == 401
    assert User.objects.filter(pk=doomed.pk).exists()
