"""ITIL closure: the reporter confirms (-> closed, with a score) or reopens (-> in_progress,
with a reason) a resolved incident, in the portal or from a signed e-mail link; and
resolved incidents nobody answers for N days close automatically."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from celery.result import EagerResult
from celery.signals import task_postrun
from django.core import signing
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from core.errors import Conflict, DomainError, Forbidden
from incidents import services, tasks
from incidents.models import Incident, IncidentSettings, TimelineEntry
from incidents.states import Status
from tenancy import rls
from tenancy.models import Role
from tests.conftest import see

pytestmark = pytest.mark.django_db

NOTE = "Closed automatically after {} days without a reply"


def auto_close_at(moment, organization) -> int:
    with time_machine.travel(moment, tick=False):
        return tasks.auto_close_organization(organization.pk)


def resolved(org, reporter, title="VPN is down"):
    incident = services.incident_create(
        organization=org, actor=reporter, reporter=reporter, title=title
    )
    return services.incident_transition(
        organization=org,
        actor=None,
        incident=incident,
        status=Status.RESOLVED,
        resolution="Restarted the gateway.",
    )


def refreshed(org, incident) -> Incident:
    return Incident.objects.for_org(org).get(pk=incident.pk)


def entries(org, incident):
    return list(TimelineEntry.objects.for_org(org).filter(incident=incident).order_by("id"))


def detail_url(org, incident):
    return reverse("incidents:detail", kwargs={"org": org.slug, "number": incident.number})


@pytest.fixture
def reporter(member):
    return member(Role.REPORTER, username="rita")


@pytest.fixture
def incident(org, reporter):
    return resolved(org, reporter)


# --- services -------------------------------------------------------------------------------


def test_reporters_hold_the_confirm_permission(org, member, reporter, incident):
    assert reporter.has_perm("incidents.confirm_incident", incident)
    for role in (Role.STAKEHOLDER, Role.RESPONDER, Role.ADMIN, Role.OWNER):
        assert not member(role).has_perm("incidents.confirm_incident", incident)


def test_the_reporter_confirms_with_a_score_and_comment(org, reporter, incident):
    closed = services.incident_confirm_closure(
        organization=org, actor=reporter, incident=incident, score=4, comment=" Works again "
    )
    incident = refreshed(org, incident)
    assert closed.status == incident.status == Status.CLOSED
    assert incident.closed_at is not None
    assert (incident.satisfaction_score, incident.satisfaction_comment) == (4, "Works again")
    last = entries(org, incident)[-1]
    assert last.kind == TimelineEntry.Kind.STATUS_CHANGED
    assert last.data == {"from": "resolved", "to": "closed"}
    assert last.actor == reporter
    assert last.is_public


def test_the_score_is_optional_and_must_be_1_to_5(org, reporter, incident):
    for score in (0, 6, True):
        with pytest.raises(DomainError):
            services.incident_confirm_closure(
                organization=org, actor=reporter, incident=incident, score=score
            )
    assert refreshed(org, incident).status == Status.RESOLVED
    services.incident_confirm_closure(organization=org, actor=reporter, incident=incident)
    incident = refreshed(org, incident)
    assert incident.status == Status.CLOSED
    assert incident.satisfaction_score is None


def test_the_reporter_reopens_with_a_reason(org, reporter, incident):
    with pytest.raises(DomainError):
        services.incident_reopen(organization=org, actor=reporter, incident=incident, reason=" ")
    services.incident_reopen(
        organization=org, actor=reporter, incident=incident, reason="Still cannot connect."
    )
    incident = refreshed(org, incident)
    assert incident.status == Status.IN_PROGRESS
    assert incident.resolved_at is None
    last = entries(org, incident)[-1]
    assert last.body == "Still cannot connect."
    assert last.is_public
    assert last.data == {"from": "resolved", "to": "in_progress"}


@pytest.mark.parametrize("role", [Role.REPORTER, Role.STAKEHOLDER])
def test_only_the_reporter_or_a_responder_may_confirm(org, member, incident, role):
    someone = member(role)
    with pytest.raises(Forbidden):
        services.incident_confirm_closure(organization=org, actor=someone, incident=incident)
    with pytest.raises(Forbidden):
        services.incident_reopen(organization=org, actor=someone, incident=incident, reason="x")
    with pytest.raises(Forbidden):
        services.incident_reopen(organization=org, actor=None, incident=incident, reason="x")
    assert refreshed(org, incident).status == Status.RESOLVED
    services.incident_confirm_closure(
        organization=org, actor=member(Role.RESPONDER), incident=incident
    )
    assert refreshed(org, incident).status == Status.CLOSED


def test_only_a_resolved_incident_can_be_confirmed_or_reopened(org, reporter):
    incident = services.incident_create(
        organization=org, actor=reporter, reporter=reporter, title="Printer"
    )
    with pytest.raises(Conflict):
        services.incident_confirm_closure(organization=org, actor=reporter, incident=incident)
    with pytest.raises(Conflict):
        services.incident_reopen(organization=org, actor=reporter, incident=incident, reason="x")
    assert refreshed(org, incident).status == Status.NEW


# --- the portal's incident page ---------------------------------------------------------------


def test_the_reporter_sees_the_two_choices_on_a_resolved_incident(
    org, member, reporter, incident, client_for
):
    page = client_for(reporter).get(detail_url(org, incident)).content.decode()
    assert "Yes, it is fixed — close it" in page
    assert "No, it is still broken — reopen" in page
    assert 'name="score"' in page
    assert 'value="5"' in page
    for other in (member(Role.RESPONDER), member(Role.REPORTER)):
        response = client_for(other).get(detail_url(org, incident))
        assert "Yes, it is fixed" not in response.content.decode()


def test_no_choices_before_resolution(org, reporter, client_for):
    incident = services.incident_create(
        organization=org, actor=reporter, reporter=reporter, title="Printer"
    )
    page = client_for(reporter).get(detail_url(org, incident)).content.decode()
    assert "Yes, it is fixed" not in page


def test_the_reporter_confirms_in_the_portal(org, reporter, incident, client_for):
    response = client_for(reporter).post(
        detail_url(org, incident), {"action": "confirm", "score": "5", "comment": "Thanks!"}
    )
    assert response.status_code == 302
    incident = refreshed(org, incident)
    assert incident.status == Status.CLOSED
    assert (incident.satisfaction_score, incident.satisfaction_comment) == (5, "Thanks!")


def test_the_reporter_reopens_in_the_portal(org, reporter, incident, client_for):
    client = client_for(reporter)
    response = client.post(detail_url(org, incident), {"action": "reopen", "reason": ""})
    assert response.status_code == 400
    assert refreshed(org, incident).status == Status.RESOLVED
    response = client.post(detail_url(org, incident), {"action": "reopen", "reason": "Nope."})
    assert response.status_code == 302
    assert refreshed(org, incident).status == Status.IN_PROGRESS
    assert entries(org, incident)[-1].body == "Nope."


def test_a_bad_score_in_the_portal_changes_nothing(org, reporter, incident, client_for):
    response = client_for(reporter).post(
        detail_url(org, incident), {"action": "confirm", "score": "9"}
    )
    assert response.status_code == 400
    assert refreshed(org, incident).status == Status.RESOLVED


def test_another_reporter_cannot_confirm_in_the_portal(org, member, incident, client_for):
    response = client_for(member(Role.REPORTER)).post(
        detail_url(org, incident), {"action": "confirm"}
    )
    assert response.status_code == 404  # they cannot even see it
    response = client_for(member(Role.STAKEHOLDER)).post(
        detail_url(org, incident), {"action": "confirm"}
    )
    assert response.status_code == 403
    assert refreshed(org, incident).status == Status.RESOLVED


# --- the signed e-mail link -----------------------------------------------------------------


def test_closure_link_is_the_confirm_path(org, incident):
    link = services.closure_link(incident)
    assert link.startswith(f"/o/{org.slug}/incidents/{incident.number}/confirm/")
    assert link.endswith("/")


def test_the_link_shows_both_choices_without_logging_in(org, incident, client):
    response = client.get(services.closure_link(incident))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Yes, it is fixed — close it" in page
    assert "No, it is still broken — reopen" in page
    assert incident.title in page


def test_posting_the_link_confirms(org, reporter, incident, client):
    link = services.closure_link(incident)
    response = client.post(link, {"action": "confirm", "score": "3"})
    assert response.status_code == 200
    incident = refreshed(org, incident)
    assert incident.status == Status.CLOSED
    assert incident.satisfaction_score == 3
    assert entries(org, incident)[-1].actor == reporter
    # Used: the incident is no longer resolved.
    assert client.get(link).status_code == 400
    assert client.post(link, {"action": "reopen", "reason": "x"}).status_code == 400
    assert refreshed(org, incident).status == Status.CLOSED


def test_posting_the_link_reopens_and_needs_a_reason(org, incident, client):
    link = services.closure_link(incident)
    assert client.post(link, {"action": "reopen", "reason": ""}).status_code == 400
    assert refreshed(org, incident).status == Status.RESOLVED
    assert client.post(link, {"action": "reopen", "reason": "Still down"}).status_code == 200
    assert refreshed(org, incident).status == Status.IN_PROGRESS


def test_a_link_from_before_a_later_resolution_is_no_longer_valid(org, reporter, incident, client):
    old = services.closure_link(incident)
    services.incident_reopen(organization=org, actor=reporter, incident=incident, reason="x")
    again = services.incident_transition(
        organization=org, actor=None, incident=incident, status=Status.RESOLVED
    )
    response = client.get(old)
    assert response.status_code == 400
    assert "no longer valid" in response.content.decode()
    assert client.post(old, {"action": "confirm"}).status_code == 400
    assert refreshed(org, incident).status == Status.RESOLVED
    assert client.get(services.closure_link(again)).status_code == 200


def test_an_expired_link_is_no_longer_valid(org, incident, client, monkeypatch):
    link = services.closure_link(incident)
    later = time.time() + timedelta(days=14, minutes=1).total_seconds()
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert client.get(link).status_code == 400
    assert client.post(link, {"action": "confirm"}).status_code == 400
    assert refreshed(org, incident).status == Status.RESOLVED


def test_a_link_for_another_incident_or_tampered_is_not_valid(org, reporter, incident, client):
    other = resolved(org, reporter, title="Mail")
    link = services.closure_link(incident)
    token = link.rstrip("/").rsplit("/", 1)[1]
    wrong = reverse(
        "incidents:confirm", kwargs={"org": org.slug, "number": other.number, "token": token}
    )
    assert client.get(wrong).status_code == 400
    assert client.post(wrong, {"action": "confirm"}).status_code == 400
    tampered = link.replace(token, token[:-2] + ("xx" if not token.endswith("xx") else "yy"))
    assert tampered != link
    assert client.post(tampered, {"action": "confirm"}).status_code == 400
    # Signed with another purpose's salt: not a closure token.
    foreign = signing.TimestampSigner(salt="something.else").sign_object(
        {"i": incident.pk, "r": None, "u": reporter.pk}
    )
    link = reverse(
        "incidents:confirm", kwargs={"org": org.slug, "number": incident.number, "token": foreign}
    )
    assert client.get(link).status_code == 400
    assert refreshed(org, incident).status == Status.RESOLVED
    assert refreshed(org, other).status == Status.RESOLVED


def test_another_organizations_incident_with_a_valid_looking_token(
    org, other_org, member, incident, client
):
    """Globex's incident with Acme's number and Acme's token: nothing changes."""
    theirs_reporter = member(Role.REPORTER, organization=other_org)
    theirs = resolved(other_org, theirs_reporter, title="Globex VPN")
    assert theirs.number == incident.number
    token = services.closure_link(incident).rstrip("/").rsplit("/", 1)[1]
    for org_slug in (other_org.slug, "no-such-org"):
        link = reverse(
            "incidents:confirm",
            kwargs={"org": org_slug, "number": incident.number, "token": token},
        )
        assert client.get(link).status_code in (400, 404)
        assert client.post(link, {"action": "confirm"}).status_code in (400, 404)
    see(org, other_org)
    assert refreshed(other_org, theirs).status == Status.RESOLVED
    assert refreshed(org, incident).status == Status.RESOLVED


def test_a_link_for_a_reporter_no_longer_in_the_organization(org, reporter, incident, client):
    from tenancy.models import Membership

    Membership.objects.for_org(org).filter(user=reporter).delete()
    response = client.post(services.closure_link(incident), {"action": "confirm"})
    assert response.status_code == 403
    assert refreshed(org, incident).status == Status.RESOLVED


# --- automatic closure ------------------------------------------------------------------------


def test_every_organization_gets_settings_with_five_days(org, other_org):
    for organization in (org, other_org):
        settings = IncidentSettings.objects.for_org(organization).get()
        assert settings.auto_close_after_days == 5


def test_auto_close_closes_incidents_resolved_longer_ago(org, reporter, incident):
    fresh = resolved(org, reporter, title="Fresh")
    Incident.objects.for_org(org).filter(pk=incident.pk).update(
        resolved_at=timezone.now() - timedelta(days=3)
    )
    now = timezone.now() + timedelta(days=2, hours=1)
    assert auto_close_at(now, org) == 1
    assert refreshed(org, incident).status == Status.CLOSED
    assert refreshed(org, fresh).status == Status.RESOLVED
    last = entries(org, incident)[-1]
    assert last.body == NOTE.format(5)
    assert last.actor is None
    assert last.actor_label == "system"
    # Idempotent: nothing left to do.
    count = len(entries(org, incident))
    assert auto_close_at(now, org) == 0
    assert len(entries(org, incident)) == count
    assert auto_close_at(now + timedelta(days=3), org) == 1
    assert refreshed(org, fresh).status == Status.CLOSED


def test_auto_close_of_one_organization_leaves_the_others_alone(org, other_org, member, reporter):
    ours = resolved(org, reporter)
    theirs = resolved(other_org, member(Role.REPORTER, organization=other_org))
    assert auto_close_at(timezone.now() + timedelta(days=6), org) == 1
    see(org, other_org)
    assert refreshed(org, ours).status == Status.CLOSED
    assert refreshed(other_org, theirs).status == Status.RESOLVED


def test_auto_close_follows_each_organizations_setting(org, other_org, member, reporter):
    ours = resolved(org, reporter)
    theirs = resolved(other_org, member(Role.REPORTER, organization=other_org))
    IncidentSettings.objects.for_org(other_org).update(auto_close_after_days=10)
    now = timezone.now() + timedelta(days=6)
    with time_machine.travel(now, tick=False):
        assert tasks.auto_close() == [org.pk, other_org.pk]
    see(org, other_org)
    assert refreshed(org, ours).status == Status.CLOSED
    assert refreshed(other_org, theirs).status == Status.RESOLVED
    with time_machine.travel(now + timedelta(days=5), tick=False):
        assert tasks.auto_close() == [org.pk, other_org.pk]
    see(org, other_org)
    assert refreshed(other_org, theirs).status == Status.CLOSED
    assert entries(other_org, theirs)[-1].body == NOTE.format(10)


def test_auto_close_sends_one_task_per_active_organization(org, other_org, make_org, monkeypatch):
    inactive = make_org("initech")
    inactive.is_active = False
    inactive.save()
    sent = []
    monkeypatch.setattr(tasks.auto_close_organization, "delay", sent.append)
    assert tasks.auto_close() == [org.pk, other_org.pk]
    assert sent == [org.pk, other_org.pk]


def test_zero_days_never_closes(org, reporter, incident):
    IncidentSettings.objects.for_org(org).update(auto_close_after_days=0)
    assert auto_close_at(timezone.now() + timedelta(days=400), org) == 0
    assert refreshed(org, incident).status == Status.RESOLVED


def test_auto_close_leaves_other_states_alone(org, reporter, incident):
    open_one = services.incident_create(
        organization=org, actor=reporter, reporter=reporter, title="Open"
    )
    services.incident_confirm_closure(organization=org, actor=reporter, incident=incident)
    before = len(entries(org, incident))
    assert auto_close_at(timezone.now() + timedelta(days=30), org) == 0
    assert refreshed(org, open_one).status == Status.NEW
    assert len(entries(org, incident)) == before


def test_an_organization_without_a_settings_row_uses_five_days(org, reporter, incident):
    IncidentSettings.objects.for_org(org).delete()
    assert auto_close_at(timezone.now() + timedelta(days=4), org) == 0
    assert auto_close_at(timezone.now() + timedelta(days=6), org) == 1


def test_admins_change_the_setting_in_the_admin(org, member, client_for):
    from tenancy.models import Membership

    admin_user = member(Role.ADMIN)
    admin_user.is_staff = True
    admin_user.save()
    Membership.objects.for_org(org).filter(user=admin_user).update(role=Role.ADMIN)
    settings = IncidentSettings.objects.for_org(org).get()
    url = reverse("admin:incidents_incidentsettings_change", args=[settings.pk])
    client = client_for(admin_user)
    response = client.post(url, {"auto_close_after_days": "7"})
    assert response.status_code == 302, response.content.decode()[:2000]
    settings.refresh_from_db()
    assert settings.auto_close_after_days == 7


def test_the_task_is_scheduled(settings):
    names = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "incidents.tasks.auto_close" in names
    assert tasks.auto_close.name == "incidents.tasks.auto_close"


# --- on a real worker -------------------------------------------------------------------------

_ran: list[str] = []


def _after_task(sender=None, **kwargs):
    _ran.append(sender.name)
    connections.close_all()


@pytest.fixture
def celery_worker(monkeypatch):
    conf = celery_app.conf
    monkeypatch.setitem(conf, "task_always_eager", False)
    monkeypatch.setitem(conf, "worker_hijack_root_logger", False)
    assert conf.broker_url.startswith("redis"), conf.broker_url
    celery_app.control.purge()
    _ran.clear()
    task_postrun.connect(_after_task, weak=False)
    try:
        with start_worker(
            celery_app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=20
        ) as worker:
            yield worker
    finally:
        task_postrun.disconnect(_after_task)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_auto_close_runs_on_a_real_worker(org, reporter, celery_worker):
    incident = resolved(org, reporter)
    with rls.tenant_context(org.pk):
        Incident.objects.for_org(org).filter(pk=incident.pk).update(
            resolved_at=timezone.now() - timedelta(days=6)
        )
    result = tasks.auto_close.delay()
    assert not isinstance(result, EagerResult)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "incidents.tasks.auto_close_organization" not in _ran:
        time.sleep(0.1)
    # The sweep, then the task it sent for the one organization, both through the broker
    # (event deliveries to other apps' subscribers run beside them).
    assert [name for name in _ran if name.startswith("incidents.")] == [
        "incidents.tasks.auto_close",
        "incidents.tasks.auto_close_organization",
    ]
    with rls.tenant_context(org.pk):
        assert refreshed(org, incident).status == Status.CLOSED
        assert entries(org, incident)[-1].body == NOTE.format(5)
