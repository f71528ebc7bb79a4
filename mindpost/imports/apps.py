from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "mindpost.imports"
    label = "imports"
    verbose_name = "Imports"
