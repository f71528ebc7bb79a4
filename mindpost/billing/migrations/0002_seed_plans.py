from django.db import migrations


def seed_plans(apps, schema_editor):
    from mindpost.billing.plans_seed import SEED_PLANS

    Plan = apps.get_model("billing", "Plan")
    for values in SEED_PLANS:
        values = dict(values)
        Plan.objects.get_or_create(code=values.pop("code"), defaults=values)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed_plans, migrations.RunPython.noop)]
