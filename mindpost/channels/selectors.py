"""Channel reads."""

from __future__ import annotations

from dataclasses import dataclass

from mindpost.accounts.models import User
from mindpost.channels import base
from mindpost.channels.models import ChannelLink


@dataclass(frozen=True)
class ChannelRow:
    """One channel as the settings page and the API show it."""

    slug: str
    display_name: str
    configured: bool
    link: ChannelLink | None

    @property
    def masked_address(self) -> str:
        return mask(self.link.address) if self.link else ""


def mask(address: str) -> str:
    """A phone number or chat id shown with its last digits only: "•••• 4567"."""
    return f"•••• {address[-4:]}" if len(address) > 4 else "••••"


def links_for(*, user: User) -> list[ChannelLink]:
    return list(ChannelLink.objects.filter(user=user).order_by("channel"))


def channel_rows(*, user: User) -> list[ChannelRow]:
    linked = {link.channel: link for link in links_for(user=user)}
    return [
        ChannelRow(
            slug=slug, display_name=channel.display_name, configured=channel.is_configured(), link=linked.get(slug)
        )
        for slug, channel in base.all_channels().items()
    ]
