"""Pages for sharing bases and emergency access: thin views over consent/services.py."""

from __future__ import annotations
