"""The 2022 framework's indicators, as data (identification.indicators)."""

from django.db import migrations

from identification.indicators import FRAMEWORK_2022, INDICATORS_2022


def load(apps, schema_editor):
    HeadlineOutcome = apps.get_model("cases", "HeadlineOutcome")
    Framework = apps.get_model("identification", "IndicatorFramework")
    Indicator = apps.get_model("identification", "Indicator")
    version = FRAMEWORK_2022["version"]
    framework, _ = Framework.objects.update_or_create(
        version=version,
        defaults={"label": FRAMEWORK_2022["label"], "min_outcomes": FRAMEWORK_2022["min_outcomes"]},
    )
    outcomes = {o.code: o for o in HeadlineOutcome.objects.filter(framework_version=version)}
    for code, label, outcome in INDICATORS_2022:
        if outcome in outcomes:
            Indicator.objects.update_or_create(
                framework=framework, code=code, defaults={"label": label, "outcome": outcomes[outcome]}
            )


def unload(apps, schema_editor):
    apps.get_model("identification", "IndicatorFramework").objects.filter(
        version=FRAMEWORK_2022["version"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("identification", "0001_initial"),
        ("cases", "0002_outcomes_2022"),
    ]
    operations = [migrations.RunPython(load, unload)]
