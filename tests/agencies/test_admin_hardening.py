"""The Django admin shows no API tokens: rest_framework.authtoken's page listed every token in plain
text, and a token copied from it works as its owner. Through the admin with a signed-in
superuser (Django's test Client).
"""

import pytest
from django.test import Client

from tests import factories as f

TOKENS = "/admin/authtoken/tokenproxy/"


@pytest.fixture
def superuser_client(django_user_model) -> Client:
    django_user_model.objects.create_superuser("root", "root@example.test", f.PASSWORD)
    client = Client()
    assert client.login(username="root", password=f.PASSWORD)
    return client


def test_the_token_list_is_gone(superuser_client, db):
    staff = f.staff_make()
    token = f.token_for(staff.user)
    assert superuser_client.get(TOKENS).status_code == 404
    assert superuser_client.get(f"{TOKENS}{staff.user.pk}/change/").status_code == 404
    assert superuser_client.get("/admin/authtoken/").status_code == 404
    index = superuser_client.get("/admin/")
    assert index.status_code == 200
    assert "tokenproxy" not in index.text and "authtoken" not in index.text
    assert token not in index.text
