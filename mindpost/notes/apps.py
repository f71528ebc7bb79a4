from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "mindpost.notes"
    label = "notes"
    verbose_name = "Notes"

    def ready(self) -> None:
        from mindpost.core import userdata
        from mindpost.notes import export_markdown, exports

        userdata.register_exporter("notes", exports.export_notes)
        userdata.register_export_format(
            "markdown",
            userdata.ExportFormat(
                stream=export_markdown.stream_zip,
                filename="mindpost-notes-markdown.zip",
                content_type="application/zip",
            ),
        )
