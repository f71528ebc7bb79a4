from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "mindpost.chat"
    label = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from mindpost.chat import exports
        from mindpost.core import userdata

        userdata.register_exporter("conversations", exports.export_conversations)
