"""Register this server's webhook with Telegram (setWebhook with TELEGRAM_WEBHOOK_SECRET)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from mindpost.channels import base, telegram


class Command(BaseCommand):
    help = "Point the Telegram bot's webhook at SITE_URL/telegram/webhook/ (or --url), with the secret token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="", help="The public HTTPS URL of the webhook (default: SITE_URL's).")

    def handle(self, *args: Any, **options: Any) -> None:
        channel = telegram.CHANNEL
        if not channel.is_configured():
            raise CommandError("Set TELEGRAM_BOT_TOKEN, TELEGRAM_BOT_USERNAME and TELEGRAM_WEBHOOK_SECRET first.")
        url = options["url"] or f"{settings.SITE_URL}{reverse('telegram-webhook')}"
        try:
            channel.set_webhook(url=url)
        except base.ChannelError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Telegram webhook set to {url}"))
