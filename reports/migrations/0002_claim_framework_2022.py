"""The 2022 Supporting Families framework's results-claim rule, as data."""

import datetime

from django.db import migrations

FRAMEWORK_2022 = {
    "label": "Supporting Families national outcomes framework (2022)",
    "in_force_from": datetime.date(2022, 4, 1),
    "in_force_to": None,
    "dependent_child_under_years": 18,
    "pregnancy_days": 280,
    "min_outcomes": 3,
    "sustained_weeks": 26,
}


def load(apps, schema_editor):
    ClaimFramework = apps.get_model("reports", "ClaimFramework")
    ClaimFramework.objects.update_or_create(version="2022", defaults=FRAMEWORK_2022)


def unload(apps, schema_editor):
    apps.get_model("reports", "ClaimFramework").objects.filter(version="2022").delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
