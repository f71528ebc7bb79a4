from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ThrottleCounter",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "key", "window_start", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("key", models.CharField(max_length=200)),
                ("window_start", models.DateTimeField()),
                ("expires_at", models.DateTimeField(db_index=True)),
                ("count", models.IntegerField(default=0)),
            ],
            options={
                "db_table": "core_throttlecounter",
            },
        ),
        # Counters are written on every request and worthless after a crash: skip the WAL.
        migrations.RunSQL(
            "ALTER TABLE core_throttlecounter SET UNLOGGED",
            reverse_sql="ALTER TABLE core_throttlecounter SET LOGGED",
        ),
    ]
