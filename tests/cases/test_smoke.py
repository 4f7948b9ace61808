"""A first walk through the record as a key worker and a partner would."""

from django.utils import timezone

from tests import factories as f


def test_key_worker_opens_family_and_partner_records_contact(borough, client_for):
    kw = client_for(borough.key_worker.user)
    response = kw.post(
        "/api/v1/families/", {"name": "Jones household", "postcode": "ls1 4ap"}, format="json"
    )
    assert response.status_code == 201, response.json()
    family = response.json()
    assert family["postcode"] == "LS1 4AP"
    assert family["lead_agency"] == borough.early_help.id
    assert family["key_worker"] == borough.key_worker.user_id

    partner = client_for(borough.partner.user)
    assert partner.get(f"/api/v1/families/{family['id']}/").status_code == 404
    joined = kw.post(
        f"/api/v1/families/{family['id']}/team/",
        {"agency": borough.school.id, "practitioner": borough.partner.user_id},
        format="json",
    )
    assert joined.status_code == 201, joined.json()
    # On the team but no lawful basis yet: still not visible.
    assert partner.get(f"/api/v1/families/{family['id']}/").status_code == 404
    mum = kw.post(
        f"/api/v1/families/{family['id']}/members/",
        {
            "given_name": "Amy",
            "family_name": "Jones",
            "date_of_birth": "1988-02-01",
            "relationship": "parent",
            "parental_responsibility": True,
        },
        format="json",
    )
    assert mum.status_code == 201, mum.json()
    basis = kw.post(
        f"/api/v1/families/{family['id']}/sharing/",
        {
            "basis": "consent",
            "agencies": [borough.school.id],
            "given_by": [mum.json()["id"]],
            "method": "written",
        },
        format="json",
    )
    assert basis.status_code == 201, basis.json()
    detail = partner.get(f"/api/v1/families/{family['id']}/")
    assert detail.status_code == 200
    assert detail.json()["sharing"]["status"] == "active"
    contact = partner.post(
        f"/api/v1/families/{family['id']}/contacts/",
        {"occurred_at": timezone.now().isoformat(), "method": "school", "summary": "Met mum"},
        format="json",
    )
    assert contact.status_code == 201, contact.json()
    chronology = kw.get(f"/api/v1/families/{family['id']}/chronology/").json()["results"]
    # Newest first: the partner's contact (it happened just now), then the key worker's steps.
    assert [e["type"] for e in chronology] == [
        "contact.recorded",
        "member.added",
        "team.joined",
        "family.opened",
    ]
    listed = partner.get("/api/v1/families/").json()["results"]
    assert [x["id"] for x in listed] == [borough.family.id, family["id"]]


def test_token_endpoint(borough, client_for):
    anon = client_for()
    ok = anon.post(
        "/api/v1/auth/token/",
        {"username": borough.partner.user.username, "password": f.PASSWORD},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["token"]
    bad = anon.post(
        "/api/v1/auth/token/",
        {"username": borough.partner.user.username, "password": "nope"},
        format="json",
    )
    assert bad.status_code == 400
    assert anon.get("/api/v1/families/").status_code == 401
