"""Full-page screenshots of the main pages, wide (1280 px) and on a phone (375 px), for people to
look at: the key worker's caseload, a family's page, a form showing its errors (the contact form
submitted empty) and the manager's overview. They are saved under tests/e2e/artifacts/ (ignored
by git) as `<page>-<width>.png`; the test checks each is a PNG of the viewport's width.

The seeded borough is only read here (the empty form is refused).
"""

from __future__ import annotations

import struct

import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.web.conftest import sign_in

WIDTHS = (1280, 375)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _caseload(page, live_app) -> None:
    page.goto("/caseload/")


def _family(page, live_app) -> None:
    page.goto("/families/{family}/".format(**live_app.ids))


def _form_with_errors(page, live_app) -> None:
    page.goto("/families/{family}/contacts/new/".format(**live_app.ids))
    with page.expect_navigation():
        page.locator("main form[method='post'] button[type='submit']").click()
    assert page.locator(".govuk-error-summary").count() == 1


def _manager(page, live_app) -> None:
    page.goto("/manager/")


SHOTS = (
    ("caseload", "key_worker", _caseload),
    ("family", "key_worker", _family),
    ("contact-form-errors", "key_worker", _form_with_errors),
    ("manager", "manager", _manager),
)


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("name", "role", "open_page"), SHOTS, ids=[s[0] for s in SHOTS])
def test_screenshot(name, role, open_page, width, new_page, live_app):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-{width}.png"
    path.unlink(missing_ok=True)
    page = new_page(width=width, height=800)
    sign_in(page, live_app.users[role])
    open_page(page, live_app)
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")
    assert page.locator("h1").count() == 1
    page.screenshot(path=str(path), full_page=True)
    assert path.exists() and path.stat().st_size > 1000, path
    shot_width, shot_height = png_size(path)
    assert shot_width == width, (path, shot_width)
    assert shot_height >= 800, (path, shot_height)
