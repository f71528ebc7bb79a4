from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "mindpost.chat"
    label = "chat"
