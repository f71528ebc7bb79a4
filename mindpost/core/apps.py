from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mindpost.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from mindpost.core import telemetry

        telemetry.setup()  # Sentry, only when SENTRY_DSN is set
