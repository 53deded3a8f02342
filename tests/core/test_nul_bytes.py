"""A NUL byte in a URL answers 400 everywhere: PostgreSQL text cannot hold one, so each
search box, filter and identifier that reached a query answered 500 there."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tenancy.models import Role

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

PORTAL = [
    "/o/acme/teams/?q=%00",
    "/o/acme/members/?q=%00",
    "/o/acme/members/?role=%00",
    "/o/acme/audit/?q=%00",
    "/o/acme/audit/?action=%00",
    "/o/acme/incidents/?q=%00",
    "/o/acme/services/?q=%00",
    "/o/acme/teams/%00/",
    "/o/acme/?%00=x",
]
API = [
    "/api/v1/orgs/acme/teams/?q=%00",
    "/api/v1/orgs/acme/teams/?member=%00",
    "/api/v1/orgs/acme/teams/%00/",
    "/api/v1/orgs/acme/members/?q=%00",
    "/api/v1/orgs/acme/members/%00/",
    "/api/v1/orgs/acme/audit-events/?actor=%00",
    "/api/v1/orgs/acme/audit-events/?action=%00",
    "/api/v1/orgs/acme/incidents/?q=%00",
    "/api/v1/orgs/acme/incidents/?tag=%00",
    "/api/v1/orgs/acme/services/%00/",
    "/api/v1/orgs/acme/services/%00/integrations/",
    "/api/v1/orgs/acme/reviews/%00/",
]


@pytest.mark.parametrize("path", PORTAL)
def test_portal_pages(client_for, member, path):
    response = client_for(member(Role.OWNER)).get(path, HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", API)
def test_api_filters_and_lookups(api_client_for, api_key_for, path):
    response = api_client_for(api_key_for(Role.OWNER)).get(path)
    assert response.status_code == 400
    errors = response.json()
    if "?" in path:  # the parameter, as with the API's other field errors
        assert errors == {path.split("?")[1].split("=")[0]: ["NUL bytes are not allowed."]}
    else:
        assert errors == {"detail": "NUL bytes are not allowed."}


def test_admin_search_boxes(client_for, member, org):
    client = client_for(member(Role.ADMIN))
    searchable = [m for m, a in admin.site._registry.items() if a.search_fields]
    assert searchable
    for model in searchable:
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        response = client.get(changelist, {"q": "\x00"})
        assert response.status_code == 400, changelist


def test_a_nul_free_search_still_works(client_for, member):
    client = client_for(member(Role.OWNER, username="searcher"))
    response = client.get("/o/acme/members/", {"q": "search"})
    assert response.status_code == 200
    assert "searcher" in response.content.decode()
