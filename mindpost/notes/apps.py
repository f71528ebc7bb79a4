from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "mindpost.notes"
    label = "notes"
