from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "mindpost.billing"
    label = "billing"
