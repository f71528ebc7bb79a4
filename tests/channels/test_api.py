"""The channels API for the apps (GET /api/channels/, POST .../link-code/, DELETE /api/channels/{id}/)
and the settings page's panel: per-user isolation on every endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.channels import base
from mindpost.channels.models import ChannelLink, LinkCode
from tests.conftest import bearer
from tests.fakes.graph_server import FakeGraph
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.django_db


def link(user: User, channel: str = "whatsapp", address: str = "15551234567") -> ChannelLink:
    return ChannelLink.objects.create(
        user=user, channel=channel, address=address, address_hash=base.lookup_hash("address", address)
    )


def test_list_shows_each_channel_and_only_my_links(
    auth_api: APIClient, user: User, make_user: Callable[..., User], graph: FakeGraph
) -> None:
    mine = link(user)
    link(make_user("eve@example.com"), channel="telegram", address="999")
    body = auth_api.get("/api/channels/").json()
    rows = {row["channel"]: row for row in body["results"]}
    assert rows["whatsapp"]["configured"] is True
    assert rows["whatsapp"]["link"]["id"] == str(mine.pk)
    assert rows["whatsapp"]["link"]["address"] == "•••• 4567"
    assert rows["telegram"] == {"channel": "telegram", "display_name": "Telegram", "configured": False, "link": None}


def test_link_code_for_an_unconfigured_or_unknown_channel(auth_api: APIClient) -> None:
    response = auth_api.post("/api/channels/telegram/link-code/")
    assert response.status_code == 503
    assert response.json()["code"] == "channel_not_configured"
    response = auth_api.post("/api/channels/signal/link-code/")
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_channel"
    assert not LinkCode.objects.exists()


def test_link_code_stores_only_a_hash(auth_api: APIClient, graph: FakeGraph, settings: Any) -> None:
    settings.WHATSAPP_BUSINESS_NUMBER = "+1 555 078 3881"
    body = auth_api.post("/api/channels/whatsapp/link-code/").json()
    assert len(body["code"]) == base.CODE_LENGTH
    assert body["connect_url"] == f"https://wa.me/15550783881?text=MP-{body['code']}"
    stored = LinkCode.objects.get()
    assert body["code"] not in stored.code_hash


def test_unlinking_my_own_link_and_not_someone_elses(
    auth_api: APIClient, user: User, make_user: Callable[..., User]
) -> None:
    theirs = link(make_user("eve@example.com"))
    response = auth_api.delete(f"/api/channels/{theirs.pk}/")
    assert response.status_code == 404
    assert ChannelLink.objects.filter(pk=theirs.pk).exists()
    assert auth_api.delete(f"/api/channels/{uuid.uuid4()}/").status_code == 404
    mine = link(user, address="447700900123")
    assert auth_api.delete(f"/api/channels/{mine.pk}/").status_code == 204
    assert not ChannelLink.objects.filter(pk=mine.pk).exists()


def test_signed_out_requests_are_refused(api: APIClient, user: User) -> None:
    mine = link(user)
    assert api.get("/api/channels/").status_code == 401
    assert api.post("/api/channels/whatsapp/link-code/").status_code == 401
    assert api.delete(f"/api/channels/{mine.pk}/").status_code == 401


def test_a_second_account_cannot_see_the_first_ones_link(
    api: APIClient, user: User, make_user: Callable[..., User]
) -> None:
    link(user)
    make_user("eve@example.com")
    bearer(api, email="eve@example.com")
    rows = api.get("/api/channels/").json()["results"]
    assert all(row["link"] is None for row in rows)


# --- the settings page --------------------------------------------------------------------------


def test_settings_page_loads_the_panel(web: Client) -> None:
    page = web.get("/settings/").content.decode()
    assert 'id="channels"' in page
    assert 'hx-get="/settings/channels/"' in page


def test_panel_lists_links_with_unlink_buttons_and_issues_codes(
    web: Client, user: User, graph: FakeGraph, tg: FakeTelegram
) -> None:
    mine = link(user)
    panel = web.get("/settings/channels/", headers={"HX-Request": "true"}).content.decode()
    assert "•••• 4567" in panel
    assert f"/settings/channels/{mine.pk}/unlink/" in panel
    assert "/settings/channels/telegram/code/" in panel
    issued = web.post("/settings/channels/telegram/code/", headers={"HX-Request": "true"}).content.decode()
    assert "https://t.me/MindPostTestBot?start=" in issued
    assert LinkCode.objects.filter(user=user, channel="telegram").exists()
    unlinked = web.post(f"/settings/channels/{mine.pk}/unlink/", headers={"HX-Request": "true"})
    assert unlinked.status_code == 200
    assert "Unlinked." in unlinked.content.decode()
    assert not ChannelLink.objects.exists()


def test_panel_without_javascript_is_a_page(web: Client, user: User) -> None:
    page = web.get("/settings/channels/")
    assert page.status_code == 200
    assert "<h1" in page.content.decode()


def test_web_unlink_of_someone_elses_link_is_404(web: Client, make_user: Callable[..., User]) -> None:
    theirs = link(make_user("eve@example.com"))
    assert web.post(f"/settings/channels/{theirs.pk}/unlink/").status_code == 404
    assert ChannelLink.objects.filter(pk=theirs.pk).exists()


def test_web_views_need_a_signed_in_user_and_post(web: Client, user: User) -> None:
    assert Client().get("/settings/channels/").status_code == 302
    assert web.get("/settings/channels/whatsapp/code/").status_code == 405


def test_account_export_has_the_links_and_messages(user: User) -> None:
    from mindpost.channels.exports import export_channels
    from mindpost.channels.models import InboundMessage

    link(user)
    InboundMessage.objects.create(
        channel="whatsapp",
        dedup_hash="x",
        sender="15551234567",
        sender_hash="y",
        user=user,
        kind="text",
        payload={"text": "who did I meet?"},
        outcome="answered",
        reply="Stavros.",
    )
    exported = export_channels(user)
    assert exported["links"][0]["address"] == "15551234567"
    assert exported["messages"][0]["text"] == "who did I meet?"
    assert exported["messages"][0]["reply"] == "Stavros."


def test_admin_lists_channels_without_private_fields(user: User, make_user: Callable[..., User]) -> None:
    admin_user = make_user("root@example.com", is_staff=True, is_superuser=True)
    link(user)
    client = Client()
    client.force_login(admin_user)
    for path in ["/admin/channels/channellink/", "/admin/channels/inboundmessage/"]:
        response = client.get(path)
        assert response.status_code == 200
        assert "15551234567" not in response.content.decode()
    detail = client.get(f"/admin/channels/channellink/{ChannelLink.objects.get().pk}/change/")
    assert detail.status_code == 200
    assert "15551234567" not in detail.content.decode()
