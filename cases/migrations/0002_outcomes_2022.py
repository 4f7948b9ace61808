"""The 2022 Supporting Families national outcomes framework: ten headline outcomes, as data."""

from django.db import migrations

FRAMEWORK_2022 = [
    ("education", "Getting a good education"),
    ("early_years", "Good early years development"),
    ("health", "Improved mental and physical health"),
    ("substance_use", "Promoting recovery and reducing harm from substance use"),
    ("family_relationships", "Improved family relationships"),
    ("safe_from_abuse", "Children safe from abuse and exploitation"),
    ("crime", "Crime prevention and tackling crime"),
    ("domestic_abuse", "Safe from domestic abuse"),
    ("housing", "Secure housing"),
    ("financial_stability", "Financial stability"),
]


def load(apps, schema_editor):
    HeadlineOutcome = apps.get_model("cases", "HeadlineOutcome")
    for position, (code, label) in enumerate(FRAMEWORK_2022, start=1):
        HeadlineOutcome.objects.update_or_create(
            framework_version="2022", code=code, defaults={"label": label, "position": position}
        )


def unload(apps, schema_editor):
    apps.get_model("cases", "HeadlineOutcome").objects.filter(framework_version="2022").delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
