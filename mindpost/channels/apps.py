from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "mindpost.channels"
    label = "channels"
    verbose_name = "Messaging channels"

    def ready(self) -> None:
        from mindpost.channels import exports, receivers  # noqa: F401 (receivers connect on import)
        from mindpost.core import userdata

        userdata.register_exporter("channels", exports.export_channels)
