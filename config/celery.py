"""Celery app. With REDIS_URL set, tasks go to the Redis broker; without it they run in process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("teamaround")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
