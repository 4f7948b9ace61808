"""Sign-in throttling: one budget of attempts per client address, shared by every web process.

Used by the API's token endpoint (agencies/api.py `TokenView`) and the Django admin's login form
(agencies/admin.py): one scope, so alternating between the two gives no extra guesses.

Where the count lives: the `throttle` cache (config/settings.py), Redis when REDIS_URL is set,
else a database table. Never a per-process cache: with N web processes that would be N budgets,
and a restart would empty them.

Who the client is: `core.middleware.client_ident` (DRF's `get_ident` with
`REST_FRAMEWORK["NUM_PROXIES"]`, env TRUSTED_PROXY_COUNT, default 0), the rule the access log
records the client's address by. With 0 it is REMOTE_ADDR and X-Forwarded-For is ignored; with
N > 0 it is the N-th X-Forwarded-For entry from the right, the one the outermost trusted proxy
wrote. Entries further left are whatever the client sent and are never used.

How it counts: a counter per address and fixed window, created with `add` and raised with `incr`
(Redis SET NX and INCR, atomic across processes), instead of DRF's read-modify-write list of
timestamps, which concurrent requests race past. On the database store the two steps run in one
transaction (SQLite's BEGIN IMMEDIATE serialises them; PostgreSQL deployments use Redis).
"""

from __future__ import annotations

import hashlib

from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import router, transaction
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core.middleware import client_ident

CACHE_ALIAS = "throttle"
SCOPE = "sign_in"


class SignInRateThrottle(SimpleRateThrottle):
    scope = SCOPE

    @property
    def THROTTLE_RATES(self):
        # Read when the throttle is made, not bound once at import as DRF's class attribute is.
        return api_settings.DEFAULT_THROTTLE_RATES

    @property
    def cache(self):
        return caches[CACHE_ALIAS]

    def get_ident(self, request) -> str:
        return client_ident(request)

    def get_cache_key(self, request, view) -> str:
        ident = str(self.get_ident(request))
        # Hashed: with trusted proxies the ident is a header value, of any length and characters.
        digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        key = f"{self.get_cache_key(request, view)}_{window}"
        cache = self.cache
        if isinstance(cache, DatabaseCache):
            with transaction.atomic(using=router.db_for_write(cache.cache_model_class)):
                count = self._count(cache, key)
        else:
            count = self._count(cache, key)
        return count <= self.num_requests

    def _count(self, cache, key: str) -> int:
        # Kept a few seconds past the window's end; the next window has its own key.
        timeout = int(self.window_end - self.now) + 5
        cache.add(key, 0, timeout)
        try:
            return cache.incr(key)
        except ValueError:  # gone between add and incr (evicted): count afresh
            cache.add(key, 1, timeout)
            return 1

    def wait(self) -> float:
        """Seconds until the window ends and the address may try again."""
        return max(self.window_end - self.now, 0.0)

    def refusal(self) -> str:
        return f"Too many sign-in attempts. Try again in {max(int(self.wait()), 1)} seconds."
