from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "mindpost.web"
    label = "web"
