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
    root = django_user_model.objects.create_superuser("root", "root@example.test", f.PASSWORD)
    client = Client()
    # force_login: Client.login calls authenticate() without a request, which the lockout's
    # backend (django-axes) refuses; signing in through the admin's form is tested elsewhere.
    client.force_login(root)
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
