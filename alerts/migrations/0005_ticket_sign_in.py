"""An alert socket ticket remembers the sign-in it was asked with (an API token or a session)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0004_lifecycle"),
        ("agencies", "0004_api_tokens"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertticket",
            name="session_key",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
        migrations.AddField(
            model_name="alertticket",
            name="token",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.KNOX_TOKEN_MODEL,
            ),
        ),
    ]
