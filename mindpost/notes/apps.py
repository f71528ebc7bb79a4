from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "mindpost.notes"
    label = "notes"
    verbose_name = "Notes"

    def ready(self) -> None:
        from mindpost.core import userdata
        from mindpost.notes import exports

        userdata.register_exporter("notes", exports.export_notes)
