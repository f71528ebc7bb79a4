"""Settings → Messaging apps: the linked WhatsApp / Telegram chats, unlink buttons, and link codes.

The panel loads itself into the settings page (web/_settings_channels.html), so the settings
view is untouched; without JavaScript, /settings/channels/ is a page of its own.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from mindpost.channels import base, selectors, services
from mindpost.web.helpers import is_htmx, web_user


def _render(request: HttpRequest, **extra: Any) -> HttpResponse:
    context = {"channel_rows": selectors.channel_rows(user=web_user(request)), **extra}
    template = "web/_channels_panel.html" if is_htmx(request) else "web/channels.html"
    return render(request, template, context)


@require_GET
@login_required
@never_cache
def settings_channels(request: HttpRequest) -> HttpResponse:
    return _render(request)


@require_POST
@login_required
@never_cache  # the code is shown once
def channel_link_code(request: HttpRequest, channel: str) -> HttpResponse:
    chosen = base.get(channel)  # 404 for an unknown slug
    issued = services.link_code_create(user=web_user(request), channel=chosen)
    return _render(request, issued=issued, issued_channel=chosen.slug)


@require_POST
@login_required
def channel_unlink(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    services.link_delete(user=web_user(request), link_id=pk)  # 404 for another user's link
    return _render(request, notice="Unlinked. Messages from that chat are no longer saved.")
