"""`User.email_verified`: the copy of allauth's verified state that requests read from the user row
(docs/decisions/0007-email-verified-on-the-user-row.md). Every change to the address takes effect on
the next request with the same access token, not when the token expires."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from rest_framework.test import APIClient

from mindpost.accounts import services
from mindpost.accounts.models import User
from tests.conftest import bearer

pytestmark = pytest.mark.django_db


def _me(client: APIClient) -> bool:
    response = client.get("/api/me/")
    assert response.status_code == 200, response.content
    verified: bool = response.json()["email_verified"]
    return verified


def _signed_in(user: User) -> APIClient:
    client = APIClient()
    bearer(client, email=user.email)
    return client


def test_a_verified_address_sets_the_flag_and_an_unverified_one_does_not(make_user: Callable[..., User]) -> None:
    make_user("yes@example.com")
    make_user("no@example.com", verified=False)
    assert User.objects.get(email="yes@example.com").email_verified is True
    assert User.objects.get(email="no@example.com").email_verified is False


def test_unverifying_takes_effect_on_the_next_request_with_the_same_token(user: User) -> None:
    client = _signed_in(user)
    assert _me(client) is True
    address = EmailAddress.objects.get(user=user)
    address.verified = False
    address.save()
    assert _me(client) is False
    address.set_verified()  # allauth's own confirmation path
    assert _me(client) is True


def test_deleting_the_address_clears_the_flag(user: User) -> None:
    client = _signed_in(user)
    EmailAddress.objects.get(user=user).delete()
    assert _me(client) is False


def test_another_users_address_changes_nothing(user: User, make_user: Callable[..., User]) -> None:
    other = make_user("other@example.com")
    client = _signed_in(user)
    EmailAddress.objects.filter(user=other).delete()
    assert _me(client) is True
    assert User.objects.get(pk=other.pk).email_verified is False


def test_changing_the_email_to_an_unverified_address_clears_the_flag(user: User) -> None:
    client = _signed_in(user)
    EmailAddress.objects.create(user=user, email="new@example.com", primary=False, verified=False)
    user.email = "new@example.com"
    user.save()
    assert user.email_verified is False
    assert _me(client) is False


def test_sign_in_saves_touch_nothing(user: User) -> None:
    # update_last_login saves `last_login` alone: no recompute on every sign-in.
    user.save(update_fields=["last_login"])
    User.objects.filter(pk=user.pk).update(email_verified=False)  # a wrong copy stays until a real change
    user.save(update_fields=["last_login"])
    assert User.objects.get(pk=user.pk).email_verified is False


def test_sync_after_a_queryset_update(make_user: Callable[..., User]) -> None:
    user = make_user("pending@example.com", verified=False)
    EmailAddress.objects.filter(user=user).update(verified=True)  # no signal
    assert User.objects.get(pk=user.pk).email_verified is False
    assert services.email_verified_sync(user_id=user.pk) is True
    assert User.objects.get(pk=user.pk).email_verified is True


def test_the_data_migration_copies_the_state_of_existing_users(make_user: Callable[..., User]) -> None:
    verified, pending = make_user("v@example.com"), make_user("p@example.com", verified=False)
    User.objects.update(email_verified=False)
    User.objects.filter(pk=pending.pk).update(email_verified=True)
    migration = importlib.import_module("mindpost.accounts.migrations.0003_user_email_verified")
    migration.copy_verified(apps, None)
    assert User.objects.get(pk=verified.pk).email_verified is True
    assert User.objects.get(pk=pending.pk).email_verified is False
