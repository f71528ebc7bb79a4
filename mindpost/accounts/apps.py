from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "mindpost.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from mindpost.accounts import exports, signals  # noqa: F401  (signals: connects the receivers)
        from mindpost.core import userdata

        userdata.register_exporter("profile", exports.export_profile)
