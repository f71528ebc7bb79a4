from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed

from mindpost.ai import AI_SETTINGS, reset_backends


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in AI_SETTINGS:
        reset_backends()


class AiConfig(AppConfig):
    name = "mindpost.ai"
    label = "ai"
    verbose_name = "AI backends"

    def ready(self) -> None:
        # override_settings / pytest-django's `settings` fixture switch backends without a manual reset.
        setting_changed.connect(_settings_changed, dispatch_uid="mindpost.ai.reset_backends")
