"""Identification through the pages in a real browser (Debian's chromium) against the app
served live, each page checked with axe: an agency admin uploads a bad file (the row-by-row
error report, nothing loaded) and then good ones from three agencies; a lead-agency manager
starts a matching run, follows its progress, opens the queue and the planted household's
explanation, and refers it (a referral to the front door is made). On the services leg no
worker runs: the run is executed by `live_app.python` while the run page, without a reload,
follows it."""

from __future__ import annotations

import json

from identification import synthetic
from tests.e2e.test_accessibility import axe_check
from tests.web.conftest import sign_in

MAKE = """
import json
from agencies.models import Agency, AgencyKind
from agencies.roles import Role
from tests import factories as f
lead = Agency.objects.get(name="Riverside Early Help")
made = {"manager": "manager.match"}
f.staff_make(agency=lead, role=Role.MANAGER, username="manager.match")
for kind in ("school", "police", "health"):
    agency = f.agency_make(kind=kind, name="Match " + kind.title())
    made[kind] = "admin." + kind
    f.staff_make(agency=agency, role=Role.AGENCY_ADMIN, username=made[kind])
print(json.dumps(made))
"""
COUNCIL = synthetic.council_generate(seed=5, households=40)
RUN = "from identification.services import match_run_execute; print(match_run_execute(run_id=None))"
HEADER = (
    "source_record_id,given_name,family_name,date_of_birth,postcode,address,nhs_number,upn,"
    "ni_number,indicator,observed_on\n"
)
FILES = {
    "school": "S1,Tom,Kowalski,2016-03-04,LS6 2QP,12 Acacia Road,,,,school_attendance,2026-05-01\n"
    "S2,Ann,Lee,2015-01-02,LS6 3AB,4 Elm Road,,,,school_suspension,2026-04-01\n",
    "police": "P1,Kate,Kowalski,1989-11-07,LS6 2QP,12 Acacia Road,,,,"
    "domestic_abuse_notification,2026-06-12\n",
    "health": "H1,Katherine,Kowalski,1989-07-11,LS6 2QP,12 Acacia Road,9434765919,,,"
    "mental_health,2026-02-20\n",
}


def _upload(page, path, content: str, *, date_from=(1, 11, 2025), date_to=(31, 10, 2026)):
    page.goto("/identification/upload/")
    path.write_text(content)
    page.set_input_files("input[type=file]", str(path))
    page.check("input[name=legal_gateway][value=dea_2017_psd]")
    page.fill("[name=purpose]", "Identifying families for Supporting Families")
    for field, (day, month, year) in (("observed_from", date_from), ("observed_to", date_to)):
        page.fill(f"[name={field}-day]", str(day))
        page.fill(f"[name={field}-month]", str(month))
        page.fill(f"[name={field}-year]", str(year))
    with page.expect_navigation():
        page.click("button:has-text('Upload')")


def test_upload_run_and_refer_through_the_pages(live_app, new_page, tmp_path):
    report: list[str] = []
    users = json.loads(live_app.python(MAKE))
    admin = new_page()
    sign_in(admin, users["school"])
    bad = HEADER + "S9,,Lee,31/02/2015,NOT A CODE,4 Elm Road,,,,flying,2026-04-01\n"
    _upload(admin, tmp_path / "bad.csv", bad)
    assert admin.title().startswith("Error: ")
    errors = admin.locator("#row-errors + table tbody tr")
    assert errors.count() == 4
    assert "given_name" in errors.nth(0).inner_text()
    axe_check(admin, "identification upload with row errors", report)
    for agency in ("school", "police", "health"):
        page = admin if agency == "school" else new_page()
        if agency != "school":
            sign_in(page, users[agency])
        # The planted household among a small synthetic council's rows: enough data for the
        # model's parameters to be estimated.
        rows = synthetic.rows_csv(COUNCIL.rows[agency]) + FILES[agency]
        _upload(page, tmp_path / f"{agency}.csv", rows)
        assert page.url.endswith("/identification/"), page.url
    axe_check(admin, "identification home (uploader)", report)
    assert admin.locator("table tbody tr").count() == 1  # their own dataset only
    assert "Match Police" not in admin.locator("main").inner_text()

    manager = new_page()
    sign_in(manager, users["manager"])
    manager.goto("/identification/")
    axe_check(manager, "identification home (manager)", report)
    with manager.expect_navigation():
        manager.click("button:has-text('Start a matching run')")
    status = manager.locator("#report-status")
    if status.get_attribute("data-status") != "done":  # services leg: no worker running
        manager.evaluate("() => { window.__notReloaded = true; }")
        assert "done" in live_app.python(RUN)
        manager.wait_for_selector("#report-status[data-status=done]")
        assert manager.evaluate("() => window.__notReloaded === true")
    axe_check(manager, "matching run", report)
    with manager.expect_navigation():
        manager.click("a:has-text('See the candidate households')")
    axe_check(manager, "candidate queue", report)
    with manager.expect_navigation():
        manager.click("a:has-text('Kowalski household')")
    assert manager.locator("h1").inner_text() == "Kowalski household"
    text = manager.locator("main").inner_text()
    for source in ("Match School", "Match Police", "Match Health"):
        assert source in text
    assert manager.locator("th:has-text('Date of birth')").count() == 1
    axe_check(manager, "candidate", report)
    with manager.expect_navigation():
        manager.click("button:has-text('Record the decision')")
    assert manager.title().startswith("Error: ")
    manager.check("input[name=decision][value=refer]")
    manager.fill("[name=reason]", "Three headline outcomes, not known")
    with manager.expect_navigation():
        manager.click("button:has-text('Record the decision')")
    assert "Refer: Three headline outcomes" in manager.locator("main").inner_text()
    with manager.expect_navigation():
        manager.click("a:has-text('The referral made from this candidate')")
    assert "Kowalski household" in manager.locator("h1").inner_text()
    assert "Data matching" in manager.locator("main").inner_text()
