"""The architecture, checked: nothing reaches case data without asking cases/access.py first.

Every HTTP route reachable from config.urls (each method its view serves), every Celery task of
ours and every WebSocket consumer is run against a real family (conftest's `borough`) while two
things are recorded in one ordered trace:

- calls into cases/access.py: each public function of the module is replaced, for the length
  of a test, by a wrapper that notes the call (module-level references `access.x(...)`, and calls
  inside access.py itself, resolve through the module's globals, so this catches both; a product
  module that took a function by name, `from cases.access import x`, gets its name patched too);
- SQL that touches case data: the tables of every model of the apps cases, consent, alerts and
  audit (but cases.HeadlineOutcome, the public outcome framework), seen through Django's
  execute-wrapper hook (what `connection.execute_wrapper()` installs), put on every connection
  object in every thread (see `Recorder`).

A request, task run or WebSocket session that issued case SQL must have called into cases.access
before its first such statement (`unasked`). Requests are made as the outsider (a practitioner of
another agency, who cannot see the family) and as the partner (on the team under consent), with
real token authentication; bodies are empty JSON, and each request is rolled back afterwards so
the probes do not change each other's world. A route, task or consumer the walk cannot run
fails the test rather than being skipped.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import json
import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing.websocket import WebsocketCommunicator
from django.apps import apps
from django.db import connections, transaction
from django.urls import URLResolver, get_resolver, include, path, resolve
from django.urls.resolvers import RoutePattern
from django.utils import timezone
from django.utils.regex_helper import normalize
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies import services as agency_services
from cases import access
from cases import services as case_services
from cases.models import Contact, Involvement
from tests import factories as f

CASE_APPS = ("cases", "consent", "alerts", "audit")
# Not case data: the outcome framework (reference data) and the socket's sign-in tickets (a
# credential of the user's own, with no family in it).
PUBLIC_MODELS = frozenset({"cases.HeadlineOutcome", "alerts.AlertTicket"})
PRODUCT = ("accountability", "agencies", "alerts", "audit", "cases", "config", "consent")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


# --- what is case data, what is asking access -----------------------------------------------


def case_tables() -> frozenset[str]:
    """The db_table of every model (m2m tables included) of the case apps."""
    return frozenset(
        model._meta.db_table.lower()
        for label in CASE_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.label not in PUBLIC_MODELS
    )


@functools.cache
def _case_table_re() -> re.Pattern:
    names = sorted(case_tables(), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(n) for n in names) + r")\b")


@dataclass
class Trace:
    """Calls into cases.access and case-table statements, in the order they happened."""

    events: list[tuple[str, str]] = field(default_factory=list)
    threads: set[int] = field(default_factory=set)  # where the case statements ran
    lock: threading.Lock = field(default_factory=threading.Lock)

    def access(self, name: str) -> None:
        with self.lock:
            self.events.append(("access", name))

    def sql(self, statement: str) -> None:
        if _case_table_re().search(statement.lower()):
            with self.lock:
                self.events.append(("sql", statement))
                self.threads.add(threading.get_ident())

    @property
    def asked(self) -> list[str]:
        return [what for kind, what in self.events if kind == "access"]

    @property
    def touched(self) -> bool:
        return any(kind == "sql" for kind, _ in self.events)


def unasked(trace: Trace) -> str | None:
    """The checker: the first case-data statement when nothing asked cases.access before it;
    None when no case SQL ran, or an access function was called before the first of it."""
    for kind, what in trace.events:
        if kind == "access":
            return None
        return what
    return None


def _access_functions() -> dict[str, object]:
    return {
        name: obj
        for name, obj in vars(access).items()
        if not name.startswith("_")
        and inspect.isfunction(obj)
        and obj.__module__ == access.__name__
    }


class Recorder:
    """Installed once per test (`recorder` fixture); `watch()` records one trace."""

    def __init__(self, monkeypatch):
        self.current: Trace | None = None
        self.aliases: list[str] = []  # product modules holding an access function by name
        self._touched: list = []
        originals = _access_functions()
        wrappers = {name: self._wrap(name, fn) for name, fn in originals.items()}
        for name, wrapper in wrappers.items():
            monkeypatch.setattr(access, name, wrapper)
        names = {id(fn): name for name, fn in originals.items()}
        for module_name, module in list(sys.modules.items()):
            if module is None or module is access or module_name.split(".")[0] not in PRODUCT:
                continue
            for attr, value in list(vars(module).items()):
                name = names.get(id(value))
                if name is not None and value is originals[name]:
                    monkeypatch.setattr(module, attr, wrappers[name])
                    self.aliases.append(f"{module_name}.{attr}")
        # Django's execute_wrapper is per connection object, and connection objects are per
        # thread; a consumer's `database_sync_to_async` code runs in executor threads whose
        # connections may exist already (and stay connected: SQLite's in-memory test database
        # is never closed), so neither wrapping `connection` here nor `connection_created` sees
        # them reliably. Every cursor, ORM or raw, is wrapped by the
        # backend's make_cursor / make_debug_cursor: patching those two on the backend class
        # puts the hook on each connection object, in any thread, before its first statement.
        for backend in {type(connections[alias]) for alias in connections}:
            for method in ("make_cursor", "make_debug_cursor"):
                monkeypatch.setattr(backend, method, self._hooking(getattr(backend, method)))

    def _wrap(self, name: str, fn):
        recorder = self
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def wrapper_async(*args, **kwargs):
                if recorder.current is not None:
                    recorder.current.access(name)
                return await fn(*args, **kwargs)

            return wrapper_async

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if recorder.current is not None:
                recorder.current.access(name)
            return fn(*args, **kwargs)

        return wrapper

    def _hook(self, execute, sql, params, many, context):
        if self.current is not None:
            self.current.sql(sql)
        return execute(sql, params, many, context)

    def _hooking(self, make):
        recorder = self

        def make_hooked(db, cursor):
            if recorder._hook not in db.execute_wrappers:
                # First in the list = outermost; the `execute_wrapper()` context manager pops
                # the last one, so it never removes ours.
                db.execute_wrappers.insert(0, recorder._hook)
                recorder._touched.append(db)
            return make(db, cursor)

        return make_hooked

    def uninstall(self) -> None:
        for db in self._touched:
            while self._hook in db.execute_wrappers:
                db.execute_wrappers.remove(self._hook)

    def close_other_threads(self) -> None:
        """Close the connections that consumer code opened in executor threads, which keep
        them checked out of the PostgreSQL pool after the test (the test database could not be
        dropped at the end of the run while they are open)."""
        for db in self._touched:
            if db._thread_ident != threading.get_ident() and db.connection is not None:
                db.inc_thread_sharing()
                try:
                    db.close()
                finally:
                    db.dec_thread_sharing()

    @contextmanager
    def watch(self):
        trace = Trace()
        self.current = trace
        try:
            yield trace
        finally:
            self.current = None


@pytest.fixture
def recorder(monkeypatch):
    rec = Recorder(monkeypatch)
    yield rec
    rec.uninstall()


# --- the walk: routes, tasks, consumers ----------------------------------------------------------


@dataclass(frozen=True)
class Route:
    route: str  # as written in the URL conf, e.g. "api/v1/families/<int:family_id>/"
    chain: tuple  # the patterns from the root to the leaf
    callback: object

    @property
    def params(self) -> list[str]:
        names = []
        for pattern in self.chain:
            if isinstance(pattern.pattern, RoutePattern):
                names += [m["name"] for m in _ROUTE_PARAM.finditer(str(pattern.pattern))]
            else:
                names += normalize(pattern.pattern.regex.pattern)[0][1]
        return names

    @property
    def ours(self) -> bool:
        view = getattr(self.callback, "view_class", self.callback)
        return view.__module__.split(".")[0] in PRODUCT

    def methods(self) -> list[str]:
        view = getattr(self.callback, "view_class", None)
        if view is None:  # a function view: no declared methods; ask the two it may answer
            return ["GET", "POST"]
        return [m.upper() for m in view.http_method_names if hasattr(view, m)]

    def url(self, values: dict) -> str:
        parts = []
        for pattern in self.chain:
            if isinstance(pattern.pattern, RoutePattern):
                parts.append(
                    _ROUTE_PARAM.sub(lambda m: str(values[m["name"]]), str(pattern.pattern))
                )
            else:
                template, names = normalize(pattern.pattern.regex.pattern)[0]
                parts.append(template % {n: values[n] for n in names})
        return "/" + "".join(parts)


_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _walk(patterns, prefix=()):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, (*prefix, pattern))
        else:
            yield (*prefix, pattern)


def routes(resolver: URLResolver | None = None) -> list[Route]:
    """Every URL pattern reachable from the URL conf, includes followed."""
    resolver = resolver or get_resolver()
    return [
        Route("".join(str(p.pattern) for p in chain), chain, chain[-1].callback)
        for chain in _walk(resolver.url_patterns)
    ]


def tasks() -> dict[str, object]:
    """Our Celery tasks (autodiscovered as a worker does)."""
    from config.celery import app

    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def consumers(patterns=None, prefix: str = "") -> list[tuple[str, object]]:
    """(route, consumer class) for every WebSocket route of config/routing.py."""
    if patterns is None:
        from config.routing import websocket_urlpatterns as patterns
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        app = pattern.callback
        if isinstance(app, URLRouter):
            found += consumers(app.routes, route)
        else:
            found.append((route, getattr(app, "consumer_class", app)))
    return found


# --- the world the walk runs in ---------------------------------------------------------------


@dataclass
class World:
    borough: object
    ids: dict[str, int]


def _world(borough, client_for) -> World:
    from alerts.models import Alert, AlertKind
    from consent.models import SharingBasis

    b = borough
    kw = b.key_worker
    today = timezone.localdate()
    need = case_services.need_create(
        family=b.family, by=kw, outcome=f.outcome("education"), descriptor="Attendance at 70%"
    )
    action = case_services.plan_action_create(
        family=b.family,
        by=kw,
        description="Attendance plan",
        owner_agency=b.school,
        due_on=today + timedelta(days=60),
        needs=[need],
    )
    # Break-glass access by the police practitioner who left the team: a grant to review.
    response = client_for(b.ended_partner.user).post(
        f"/api/v1/families/{b.family.id}/emergency-access/",
        {"reason": "Police called to the address overnight."},
        format="json",
    )
    assert response.status_code in (201, 202), response.content[:300]
    # An unread alert for the partner, older than an hour: the digest has work.
    b.partner.user.email = "partner@school.example"
    b.partner.user.save(update_fields=["email"])
    alert = Alert.objects.create(
        recipient=b.partner.user,
        family=b.family,
        agency=b.early_help,
        kind=AlertKind.TEAM_JOINED,
        summary="Joined the team",
    )
    Alert.objects.filter(id=alert.id).update(created_at=timezone.now() - timedelta(hours=2))
    member = f.PersonFactory(family=b.family)
    ids = {
        "family_id": b.family.id,
        "involvement_id": Involvement.objects.get(
            family=b.family, agency=b.school, ended_on__isnull=True
        ).id,
        "need_id": need.id,
        "action_id": action.id,
        "basis_id": SharingBasis.objects.filter(family=b.family).order_by("id").first().id,
        "grant_id": response.json()["id"],
        "alert_id": alert.id,
        "agency_id": b.school.id,
        "staff_id": b.partner.id,
        "member_id": member.id,
        "token_id": agency_services.token_issue(user=b.partner.user)[0].id,
    }
    return World(borough=b, ids=ids)


@pytest.fixture
def world(borough, client_for) -> World:
    return _world(borough, client_for)


def _url_for(route: Route, world: World) -> tuple[str | None, str]:
    """A URL that resolves to `route`, its parameters filled from the world; (None, why) when
    none can be built. A parameter of one of our routes must name a real object of the world
    (`World.ids`); third-party routes (the admin) take any value that resolves."""
    choices = []
    for name in route.params:
        if name in world.ids:
            choices.append([world.ids[name]])
        elif route.ours:
            return None, f"no id for the parameter {name!r}: add one to the world"
        else:
            choices.append([world.ids["family_id"], *CASE_APPS, "agencies", "auth", "x"])
    for values in itertools.product(*choices):
        url = route.url(dict(zip(route.params, values, strict=True)))
        try:
            if resolve(url).func is route.callback:
                return url, ""
        except Exception:  # a value the pattern does not accept: try the next
            continue
    return None, "no URL built from the world resolves to it"


def _probe(client, recorder: Recorder, method: str, url: str) -> tuple[int, Trace]:
    """One request, its trace, then rolled back. A view that raises answers 500 here: the
    status is not this test's business, only the order of the trace."""
    client.raise_request_exception = False
    kwargs = {"content_type": "application/json"}
    if method in BODY_METHODS:
        kwargs["data"] = "{}"
    with transaction.atomic():
        with recorder.watch() as trace:
            response = client.generic(method, url, **kwargs)
        transaction.set_rollback(True)
    return response.status_code, trace


def _walk_http(world: World, client_for, recorder: Recorder, only=None) -> dict[str, list]:
    b = world.borough
    found = {"probed": [], "unasked": [], "unbuilt": []}
    for route in routes():
        if only is not None and not only(route):
            continue
        url, why = _url_for(route, world)
        if url is None:
            found["unbuilt"].append(f"/{route.route}: {why}")
            continue
        for method in route.methods():
            for who in ("outsider", "partner"):
                client = client_for(getattr(b, who).user)
                status, trace = _probe(client, recorder, method, url)
                label = f"{method} /{route.route} as {who} ({status})"
                found["probed"].append((label, trace.asked, trace.touched))
                statement = unasked(trace)
                if statement is not None:
                    found["unasked"].append(f"{label}: {statement}"[:400])
    return found


# --- the tests ---------------------------------------------------------------------------------


def test_the_walk_finds_routes_tasks_and_consumers():
    """The walk cannot pass on nothing."""
    pairs = [(r.route, m) for r in routes() for m in r.methods()]
    assert len(pairs) >= 20, pairs
    assert any(r.route.startswith("api/v1/families/<int:family_id>/") for r in routes())
    assert len(tasks()) >= 2, sorted(tasks())
    assert len(consumers()) >= 1
    assert {"cases_family", "cases_contact", "consent_sharingbasis", "alerts_alert"} <= (
        case_tables()
    )
    assert "cases_headlineoutcome" not in case_tables()


def test_every_route_asks_access_before_case_data(world, client_for, recorder):
    found = _walk_http(world, client_for, recorder)
    unbuilt = "\n".join(found["unbuilt"])
    assert not unbuilt, f"routes the walk could not reach:\n{unbuilt}"
    assert len(found["probed"]) >= 40  # 2 users x 20 route-methods at the least
    # The walk is not vacuous: many probes reached case data, having asked first.
    reached = [label for label, asked, touched in found["probed"] if touched and asked]
    assert len(reached) >= 20, reached
    assert not found["unasked"], "reached case data without asking cases.access:\n" + "\n".join(
        found["unasked"]
    )


# Tasks over the access log's own rows only: the seal chains the events written since its last
# run into their seal table (audit.services.access_events_seal). It reads nothing of a family's
# record and nothing leaves it, so it asks no access; the test holds it to the log's tables.
ACCESS_LOG_TASKS = frozenset({"audit.tasks.access_events_seal"})
# The retention task acts for no one and shows nothing to anyone: it replaces the personal details
# of families closed longer than the retention period, whoever may see them (cases/retention.py,
# decision 0022; what it keeps and removes: tests/cases/test_retention.py). It asks no access;
# here, where no family is due, it may only read.
RETENTION_TASKS = frozenset({"cases.tasks.families_pseudonymise_due"})


def _without_log_tables(statement: str) -> str:
    from audit.models import AccessEvent, AccessEventSeal

    text = statement.lower()
    for model in (AccessEventSeal, AccessEvent):  # the longer name first
        text = re.sub(rf"\b{re.escape(model._meta.db_table)}\b", "", text)
    return text


def test_every_task_asks_access_before_case_data(world, recorder):
    failures = []
    ran = 0
    from consent.models import SharingBasis

    # The sweep has work too: the family's consent ran out yesterday.
    yesterday = timezone.localdate() - timedelta(days=1)
    SharingBasis.objects.filter(family_id=world.ids["family_id"]).update(expires_on=yesterday)
    for name, task in sorted(tasks().items()):
        try:
            with transaction.atomic():
                with recorder.watch() as trace:
                    task.run()
                transaction.set_rollback(True)
        except Exception as exc:  # reported with the task
            failures.append(f"{name}: raised {exc!r}")
            continue
        ran += 1
        if name in ACCESS_LOG_TASKS:
            # It reads and writes the access log's own tables, and only those.
            other = [
                what
                for kind, what in trace.events
                if kind == "sql" and _case_table_re().search(_without_log_tables(what))
            ]
            if other:
                failures.append(f"{name}: beyond the access log: {other[0]}"[:400])
            continue
        if name in RETENTION_TASKS:
            writes = [
                what
                for kind, what in trace.events
                if kind == "sql" and re.match(r"\s*(insert|update|delete)\b", what, re.I)
            ]
            if writes:
                failures.append(f"{name}: wrote with no family due: {writes[0]}"[:400])
            continue
        # A periodic task claims its work (rows due) before deciding on each: it must ask
        # cases.access before it acts, i.e. at all when it touched case data; what it may send
        # is tested per task (the digest, the sweep).
        if trace.touched and not trace.asked:
            statement = next(what for kind, what in trace.events if kind == "sql")
            failures.append(f"{name}: {statement}"[:400])
    assert ran >= 2
    assert not failures, "tasks that reached case data without asking cases.access:\n" + (
        "\n".join(failures)
    )


@pytest.mark.django_db(transaction=True)
def test_every_consumer_asks_access_before_case_data(world, client_for, recorder):
    from config.asgi import application

    failures = []
    sessions = 0
    threads = set()

    def ticket(user) -> str:
        response = client_for(user).post("/api/v1/alerts/ticket/")
        assert response.status_code == 201, response.content[:300]
        return response.json()["ticket"]

    async def session(route: str, user) -> tuple[bool, Trace]:
        key = await database_sync_to_async(ticket)(user)
        with recorder.watch() as trace:
            communicator = WebsocketCommunicator(
                application, f"/{route}?ticket={key}", headers=[(b"origin", b"http://localhost")]
            )
            connected, _ = await communicator.connect(timeout=5)
            if connected:
                await communicator.send_json_to({"type": "resume", "after": 0})
                for _ in range(100):
                    message = await communicator.receive_output(timeout=5)
                    if message["type"] != "websocket.send":
                        break
                    if json.loads(message["text"]).get("type") in ("resumed", "error"):
                        break
                await communicator.disconnect()
        return connected, trace

    try:
        for route, consumer in consumers():
            assert not _ROUTE_PARAM.search(route), f"fill the parameters of /{route}"
            for who in ("outsider", "partner"):
                user = getattr(world.borough, who).user
                connected, trace = async_to_sync(session)(route, user)
                sessions += 1
                threads |= trace.threads
                statement = unasked(trace)
                if statement is not None:
                    label = f"/{route} ({consumer.__name__}) as {who}, connected={connected}"
                    failures.append(f"{label}: {statement}"[:400])
    finally:
        recorder.close_other_threads()
    assert sessions >= 2
    # The resume reads in the consumer's executor threads: their statements were seen too.
    assert threads - {threading.get_ident()}, "no statement seen from a consumer's thread"
    assert not failures, "consumers that reached case data without asking cases.access:\n" + (
        "\n".join(failures)
    )


def test_no_product_module_holds_an_access_function_by_name(recorder):
    """`from cases.access import f` would dodge a patched module attribute; the recorder patches
    such names too, but the rule is to call through the module."""
    assert recorder.aliases == []


# --- the checker, checked ----------------------------------------------------------------------


class _LeakyContacts(APIView):
    """Reads a family's contacts without asking cases.access: what the walk must catch."""

    def get(self, request, family_id: int):
        return Response([c.summary for c in Contact.objects.filter(family_id=family_id)])


class _AskingContacts(APIView):
    """The same read, after cases.access said the user may see the family."""

    def get(self, request, family_id: int):
        family, perms = access.family_with_permissions(request.user, family_id)
        if family is None or access.VIEW not in perms:
            return Response(status=404)
        return Response([c.summary for c in Contact.objects.filter(family_id=family.id)])


urlpatterns = [
    path("selftest/leaky/<int:family_id>/", _LeakyContacts.as_view()),
    path("selftest/asking/<int:family_id>/", _AskingContacts.as_view()),
    path("", include("config.urls")),
]


def test_checker_flags_a_view_that_reads_contacts_without_asking(
    world, client_for, recorder, settings
):
    settings.ROOT_URLCONF = __name__
    found = _walk_http(world, client_for, recorder, only=lambda r: r.route.startswith("selftest/"))
    flagged = {line.split(" (")[0] for line in found["unasked"]}
    assert flagged == {
        "GET /selftest/leaky/<int:family_id>/ as outsider",
        "GET /selftest/leaky/<int:family_id>/ as partner",
    }, found["unasked"]
    assert not found["unbuilt"]
    assert len(found["probed"]) == 2 * 2 * 2  # two views x GET, OPTIONS x two users


def test_unasked_reads_the_order_of_the_trace():
    trace = Trace()
    assert unasked(trace) is None
    trace.sql('SELECT 1 FROM "auth_user"')  # not case data: not recorded
    assert trace.events == [] and unasked(trace) is None
    trace.access("families_visible_to")
    trace.sql('SELECT * FROM "cases_family"')
    assert unasked(trace) is None
    late = Trace()
    late.sql('SELECT * FROM "cases_contact" WHERE family_id = 1')
    late.access("family_with_permissions")
    assert unasked(late) == 'SELECT * FROM "cases_contact" WHERE family_id = 1'


# --- the apps in one direction (pyproject.toml: the import-linter contract "layers") -------------


def _import_contracts() -> dict:
    import tomllib
    from pathlib import Path

    from django.conf import settings

    with open(Path(settings.BASE_DIR) / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["tool"]["importlinter"]


def test_every_app_has_its_place_in_the_layers():
    """Each of our apps (and config) is a root package of the import graph and one layer of the
    "layers" contract, so `make check` holds a new app to one direction from the start."""
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.BASE_DIR)
    ours = {c.name for c in apps.get_app_configs() if Path(c.path).parent == root}
    contracts = _import_contracts()
    layers = next(c for c in contracts["contracts"] if c["id"] == "layers")
    assert "containers" not in layers  # the layers are the apps themselves
    assert ours | {"config"} == set(contracts["root_packages"]) == set(layers["layers"])


def test_the_events_told_upwards_have_their_receivers():
    """cases and agencies tell the apps above them of their events by signals (alerts reacts):
    a signal nobody receives would drop its alerts without a sound."""
    from django.dispatch import Signal

    from agencies import signals as agency_signals
    from cases import signals as case_signals

    found = 0
    for module in (case_signals, agency_signals):
        for name, signal in vars(module).items():
            if isinstance(signal, Signal):
                found += 1
                assert signal.has_listeners(), f"{module.__name__}.{name} has no receiver"
    assert found >= 6


def test_an_event_and_its_alerts_are_one_transaction(borough, monkeypatch):
    """The receiver runs inside the write (signals are synchronous): alerts that cannot be
    written undo the contact that caused them, and none is left behind."""
    from alerts import services as alert_services
    from alerts.models import Alert
    from cases.models import ContactMethod

    def failing(**kwargs):
        raise RuntimeError("the alerts could not be written")

    def counts() -> tuple[int, int]:
        return Contact.objects.count(), Alert.objects.count()

    before = counts()
    contact = case_services.contact_create(
        family=borough.family,
        by=borough.partner,
        occurred_at=timezone.now(),
        method=ContactMethod.PHONE,
        summary="Called mum about attendance",
    )
    assert Alert.objects.filter(source_type="contact", source_id=contact.id).exists()
    assert counts() > before
    before = counts()
    monkeypatch.setattr(alert_services, "alerts_for_event", failing)
    with pytest.raises(RuntimeError):
        case_services.contact_create(
            family=borough.family,
            by=borough.partner,
            occurred_at=timezone.now(),
            method=ContactMethod.PHONE,
            summary="Called again",
        )
    assert counts() == before
