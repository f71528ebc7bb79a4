from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "mindpost.ai"
    label = "ai"
    verbose_name = "AI backends"
