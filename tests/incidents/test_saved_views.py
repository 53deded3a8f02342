"""Saved queue views: each responder's own named queue filters, per organization."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.errors import DomainError
from incidents import services as incident_services
from incidents.models import SavedView
from incidents.services import saved_views
from tenancy import services as tenancy_services
from tenancy.models import Role

pytestmark = pytest.mark.django_db


def url(name, org, **kwargs):
    return reverse(f"incidents:{name}", kwargs={"org": org.slug, **kwargs})


def text(response) -> str:
    return response.content.decode()


def own_views(response) -> dict[str, str]:
    """Name -> link of the views in the page's "Your views" list."""
    nav = re.search(r'<nav aria-label="Your views".*?</nav>', text(response), re.S).group(0)
    return {
        name: href.replace("&amp;", "&")
        for href, name in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav)
    }


def listed(response) -> list[str]:
    return re.findall(r'<td><a href="[^"]+">(INC-\d+)</a></td>', text(response))


def views_of(org, user) -> dict[str, str]:
    return dict(SavedView.objects.for_org(org).filter(owner=user).values_list("name", "query"))


@pytest.fixture
def responder(member):
    return member(Role.RESPONDER, username="responder")


@pytest.fixture
def incidents(org):
    def make(title, **fields):
        return incident_services.incident_create(
            organization=org, actor=None, title=title, **fields
        )

    return {"urgent": make("Checkout down", impact=1, urgency=1), "minor": make("Slow wiki")}


def save(client, org, name, query):
    return client.post(url("saved-view-save", org), {"name": name, "query": query})


def test_save_lists_and_applies_a_view(client_for, org, responder, incidents):
    client = client_for(responder)
    response = save(client, org, "Urgent", "priority=1&status=new")
    assert response.status_code == 302
    assert response["Location"] == url("queue", org) + "?status=new&priority=1"
    assert views_of(org, responder) == {"Urgent": "status=new&priority=1"}

    page = client.get(url("queue", org))
    assert page.status_code == 200
    assert "Saved the view “Urgent”." in text(page)
    links = own_views(page)
    assert links == {"Urgent": "?status=new&priority=1"}
    # Applying it filters the queue, and the page marks it as the current view.
    applied = client.get(url("queue", org) + links["Urgent"])
    assert listed(applied) == [incidents["urgent"].reference]
    assert re.search(r'aria-current="page">Urgent<', text(applied))


def test_the_save_form_carries_the_current_filters(client_for, org, responder):
    page = text(client_for(responder).get(url("queue", org), {"status": ["new"], "before": "1-1"}))
    assert 'name="query" value="status=new"' in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_saving_under_the_same_name_replaces_the_filters(client_for, org, responder):
    client = client_for(responder)
    save(client, org, "Mine", "assignee=me")
    save(client, org, "  Mine ", "status=on_hold&assignee=me")
    assert views_of(org, responder) == {"Mine": "status=on_hold&assignee=me"}


def test_only_known_filters_are_kept(client_for, org, responder):
    client = client_for(responder)
    save(client, org, "Clean", "?q=vpn&before=123-4&utm_source=mail&status=new&mine=on")
    assert views_of(org, responder) == {"Clean": "status=new&q=vpn&mine=1"}


@pytest.mark.parametrize(
    ("name", "query", "message"),
    [
        ("", "status=new", "Give the view a name."),
        ("   ", "status=new", "Give the view a name."),
        ("x" * 81, "status=new", "at most 80 characters"),
        ("Bad", "status=bogus", "Some filters were not understood"),
        ("Bad", "service=x'1", "Some filters were not understood"),
        ("Long", "q=" + "a" * 2_100, "too long"),
    ],
)
def test_invalid_input_is_refused_with_a_message(client_for, org, responder, name, query, message):
    client = client_for(responder)
    response = save(client, org, name, query)
    assert response.status_code == 302
    assert response["Location"].startswith(url("queue", org))
    assert message in text(client.get(response["Location"]))
    assert views_of(org, responder) == {}


@pytest.mark.postgres
def test_a_nul_byte_in_the_name_is_refused(client_for, org, responder):
    client = client_for(responder)
    response = save(client, org, "Mine\x00", "status=new")
    assert response.status_code == 302
    assert "cannot contain NUL bytes" in text(client.get(response["Location"]))
    assert views_of(org, responder) == {}


def test_a_missing_form_field_is_not_a_server_error(client_for, org, responder):
    client = client_for(responder)
    assert client.post(url("saved-view-save", org), {}).status_code == 302
    assert client.get(url("saved-view-save", org)).status_code == 405
    assert views_of(org, responder) == {}


def test_views_per_user_are_bounded(client_for, org, responder, monkeypatch):
    monkeypatch.setattr(saved_views, "MAX_PER_USER", 2)
    for name in ("One", "Two"):
        saved_views.saved_view_save(organization=org, owner=responder, name=name, query="")
    with pytest.raises(DomainError, match="delete one first"):
        saved_views.saved_view_save(organization=org, owner=responder, name="Three", query="")
    # Replacing an existing view is still allowed at the limit.
    saved_views.saved_view_save(organization=org, owner=responder, name="Two", query="mine=1")
    assert views_of(org, responder) == {"One": "", "Two": "mine=1"}


def test_delete_own_view(client_for, org, responder):
    view = saved_views.saved_view_save(organization=org, owner=responder, name="Old", query="")
    client = client_for(responder)
    assert client.get(url("saved-view-delete", org, view=view.pk)).status_code == 405
    response = client.post(url("saved-view-delete", org, view=view.pk))
    assert response.status_code == 302
    assert response["Location"] == url("queue", org)
    assert views_of(org, responder) == {}
    assert client.post(url("saved-view-delete", org, view=view.pk)).status_code == 404


def test_delete_needs_a_csrf_token(org, responder):
    view = saved_views.saved_view_save(organization=org, owner=responder, name="Kept", query="")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(responder)
    assert strict.post(url("saved-view-delete", org, view=view.pk)).status_code == 403
    assert strict.post(url("saved-view-save", org), {"name": "X", "query": ""}).status_code == 403
    assert views_of(org, responder) == {"Kept": ""}


def test_another_members_views_are_invisible_and_untouchable(client_for, org, member, responder):
    theirs = saved_views.saved_view_save(
        organization=org, owner=responder, name="Private queue", query="status=new"
    )
    colleague = member(Role.ADMIN)
    client = client_for(colleague)
    assert "Private queue" not in text(client.get(url("queue", org)))
    assert client.post(url("saved-view-delete", org, view=theirs.pk)).status_code == 404
    # The same name is theirs to use independently.
    save(client, org, "Private queue", "status=resolved")
    assert views_of(org, responder) == {"Private queue": "status=new"}
    assert views_of(org, colleague) == {"Private queue": "status=resolved"}


def test_another_organization_gets_404(client_for, org, other_org, member, responder):
    view = saved_views.saved_view_save(organization=org, owner=responder, name="Ours", query="")
    stranger = member(Role.OWNER, organization=other_org)
    client = client_for(stranger)
    assert client.post(url("saved-view-delete", org, view=view.pk)).status_code == 404
    assert client.post(url("saved-view-delete", other_org, view=view.pk)).status_code == 404
    assert save(client, org, "Planted", "").status_code == 404
    assert views_of(org, responder) == {"Ours": ""}
    assert not SavedView.objects.for_org(org).filter(owner=stranger).exists()
    # A member of both sees, in each organization, only the views saved there.
    both = member(Role.RESPONDER, organization=other_org)
    tenancy_services.membership_create(organization=org, actor=None, user=both, role=Role.RESPONDER)
    saved_views.saved_view_save(organization=other_org, owner=both, name="Globex only", query="")
    client = client_for(both)
    assert "Globex only" not in text(client.get(url("queue", org)))
    assert "Globex only" in text(client.get(url("queue", other_org)))


def test_reporters_cannot_save_views(client_for, org, member):
    reporter = member(Role.REPORTER)
    client = client_for(reporter)
    assert client.get(url("queue", org)).status_code == 302  # to their own incidents
    assert save(client, org, "Sneaky", "status=new").status_code == 403
    assert views_of(org, reporter) == {}


def test_stakeholders_see_the_queue_and_may_keep_views(client_for, org, member):
    """Stakeholders read the whole queue (the queue's own rule), so they may save views of it."""
    stakeholder = member(Role.STAKEHOLDER)
    client = client_for(stakeholder)
    assert save(client, org, "Outages", "priority=1").status_code == 302
    assert own_views(client.get(url("queue", org))) == {"Outages": "?priority=1"}


def test_the_queue_reads_saved_views_in_one_query(client_for, org, responder):
    client = client_for(responder)
    counts = []
    for size in (1, 20):
        SavedView.objects.for_org(org).filter(owner=responder).delete()
        for n in range(size):
            saved_views.saved_view_save(
                organization=org, owner=responder, name=f"View {n}", query=""
            )
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url("queue", org))
        assert len(own_views(response)) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]


# Admin ----------------------------------------------------------------------------------------


def test_admin_lists_only_the_organizations_views_read_only(
    client_for, org, other_org, member, responder
):
    view = saved_views.saved_view_save(organization=org, owner=responder, name="Ours", query="")
    stranger = member(Role.OWNER, organization=other_org, username="stranger")
    theirs = saved_views.saved_view_save(
        organization=other_org, owner=stranger, name="Secret view", query=""
    )
    client = client_for(member(Role.ADMIN))
    changelist = text(client.get(reverse("admin:incidents_savedview_changelist")))
    assert "Ours" in changelist
    assert "Secret view" not in changelist
    assert (
        client.get(reverse("admin:incidents_savedview_change", args=[view.pk])).status_code == 200
    )
    assert client.get(
        reverse("admin:incidents_savedview_change", args=[theirs.pk])
    ).status_code == (404)
    assert client.get(reverse("admin:incidents_savedview_add")).status_code == 403
    # Read-only: posting a change alters nothing.
    client.post(
        reverse("admin:incidents_savedview_change", args=[view.pk]),
        {"name": "Renamed", "query": "status=new"},
    )
    assert views_of(org, responder) == {"Ours": ""}


def test_responders_have_no_admin_for_saved_views(client_for, org, responder):
    client = client_for(responder)
    response = client.get(reverse("admin:incidents_savedview_changelist"))
    assert response.status_code in (302, 403)
