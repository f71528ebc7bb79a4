from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "mindpost.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from mindpost.billing import exports, signals  # noqa: F401 (signals connect on import)
        from mindpost.core import userdata

        userdata.register_exporter("billing", exports.export_billing)
