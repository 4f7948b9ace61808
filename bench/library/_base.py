"""What every `settings_<piece>` module adds to bench.settings: the app that applies the switch."""

from bench.settings import *  # noqa: F403
from bench.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.library.apps.LibraryWayConfig"]
