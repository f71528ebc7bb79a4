from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mindpost.core"
    label = "core"
    verbose_name = "Core"
