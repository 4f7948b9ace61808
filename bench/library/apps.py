"""The bench-only app that switches one piece to the library's way when the server starts."""

from django.apps import AppConfig
from django.conf import settings


class LibraryWayConfig(AppConfig):
    name = "bench.library"
    label = "bench_library_way"

    def ready(self):
        from bench.library import ways

        ways.apply(settings.BENCH_LIBRARY_WAY)
