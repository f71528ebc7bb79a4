from django.contrib.postgres.operations import CreateExtension
from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):  # type: ignore[no-untyped-def]
    # The shared cache (throttles, lockouts) lives in PostgreSQL like everything else.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        CreateExtension("vector"),
        migrations.RunPython(create_cache_table, migrations.RunPython.noop),
    ]
