"""A manager asks for the results claims PDF through the pages, watches it, is told it is ready
and downloads a file that opens, in a real browser against the app served live
(tests/web/live.py).

How the report is built follows the leg, as it is served:

- With REDIS_URL (PostgreSQL + Redis): builds go to Celery through Redis. No worker runs when
  the manager asks, so the report page first shows the report waiting ("Queued"); the test then
  starts a real Celery worker (`celery -A config worker`) on the served app's database and
  Redis. Without a reload, the page follows the build (it fetches its own status while the
  report waits or is built) to "Your report is ready" with the download link, and the header's
  unread count gains the `report.ready` alert, pushed by the worker through Redis to the page's
  socket. A marker set in the page's window before the worker starts is still there at the end:
  the page was not reloaded.
- Embedded (SQLite, tasks in process): the build runs in the request that asks for it, so the
  report page opens on the finished report, with the alert already counted.

On both, the downloaded file is a PDF (pypdf reads it) whose text is the claims report, marked
OFFICIAL-SENSITIVE, naming the person who asked.

The manager is the test's own (made with `live_app.python`), so the seeded people's alerts stay
as the other browser tests expect.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from pypdf import PdfReader

from tests.web.conftest import sign_in
from tests.web.live import ROOT

WORKER_READY_TIMEOUT_MS = 90_000  # a Celery worker's start, then the build and the push
MANAGER = "manager.reports"

MAKE = f"""
import json
from agencies.models import Agency
from agencies.roles import Role
from tests import factories as f
lead = Agency.objects.get(name="Riverside Early Help")
staff = f.staff_make(agency=lead, role=Role.MANAGER, username="{MANAGER}")
print(json.dumps({{"name": staff.user.get_full_name() or staff.user.username}}))
"""

# Each #report-status the page puts in place, in order (the first is the server's rendering).
WATCH = """() => {
  window.__notReloaded = true;
  window.__statuses = [document.getElementById("report-status").getAttribute("data-status")];
  new MutationObserver(() => {
    const now = document.getElementById("report-status");
    const status = now ? now.getAttribute("data-status") : "gone";
    if (window.__statuses[window.__statuses.length - 1] !== status) {
      window.__statuses.push(status);
    }
  }).observe(document.body, { childList: true, subtree: true });
}"""


def _unread(page) -> int:
    return int(page.get_attribute("#alert-count", "data-count") or 0)


def _ask_for_claims(page) -> None:
    end = date.today()
    start = end - timedelta(days=364)
    page.goto("/reports/new/")
    page.check("input[name=kind][value=claims]")
    page.check("input[name=format][value=pdf]")
    for field, day in (("period_start", start), ("period_end", end)):
        page.fill(f"[name={field}-day]", str(day.day))
        page.fill(f"[name={field}-month]", str(day.month))
        page.fill(f"[name={field}-year]", str(day.year))
    with page.expect_navigation():
        page.click("button:has-text('Ask for the report')")


def _worker_start(live_app, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo"]
        + ["--loglevel", "INFO", "--without-gossip", "--without-mingle"],
        cwd=ROOT,
        env=live_app.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def _worker_stop(worker: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if worker.poll() is not None:
            return
        os.killpg(worker.pid, sig)
        try:
            worker.wait(wait)
        except subprocess.TimeoutExpired:
            continue


def _download_check(page, manager_name: str) -> None:
    link = page.locator("#report-status a[download]")
    assert "Download the results claims report (PDF" in link.inner_text()
    with page.expect_download() as download:
        link.click()
    path = download.value.path()
    reader = PdfReader(str(path))
    assert len(reader.pages) >= 1
    text = "\n".join(p.extract_text() or "" for p in reader.pages)
    assert "Results claims" in text
    assert manager_name in text
    for number, p in enumerate(reader.pages, start=1):
        assert "OFFICIAL-SENSITIVE" in (p.extract_text() or ""), f"page {number} unmarked"


def test_manager_watches_the_claims_report_and_downloads_it(live_app, new_page):
    manager_name = json.loads(live_app.python(MAKE))["name"]
    page = new_page()
    sign_in(page, MANAGER)
    page.goto("/")
    unread_before = _unread(page)
    _ask_for_claims(page)
    assert "/reports/" in page.url and page.title().startswith("Results claims")
    status = page.locator("#report-status")

    if not live_app.redis_url:  # embedded: built in the request that asked for it
        assert status.get_attribute("data-status") == "done"
        assert page.locator(".govuk-panel__title").inner_text() == "Your report is ready"
        assert _unread(page) == unread_before + 1
        _download_check(page, manager_name)
        return

    # Served with Redis, no worker yet: the report waits, and the page says so.
    assert status.get_attribute("data-status") == "queued"
    assert page.locator("#report-progress").inner_text() == "It will start shortly."
    page.wait_for_selector("html[data-live-alerts=open]")  # the socket is listening
    page.evaluate(WATCH)
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "worker.log"
        with open(log_path, "wb") as log:
            worker = _worker_start(live_app, log)
            try:
                page.wait_for_selector(
                    "#report-status[data-status=done]", timeout=WORKER_READY_TIMEOUT_MS
                )
                # The alert reaches the page's socket after the build's commit.
                page.wait_for_function(
                    f"() => Number(document.getElementById('alert-count')"
                    f".getAttribute('data-count')) === {unread_before + 1}",
                    timeout=10_000,
                )
            except Exception:
                print(log_path.read_text(errors="replace")[-5000:])
                raise
            finally:
                _worker_stop(worker)
    assert page.evaluate("window.__notReloaded") is True
    statuses = page.evaluate("window.__statuses")
    assert statuses[0] == "queued" and statuses[-1] == "done", statuses
    assert set(statuses) <= {"queued", "running", "done"}, statuses
    assert page.locator(".govuk-panel__title").inner_text() == "Your report is ready"
    _download_check(page, manager_name)
