"""The incident domain: lifecycle, priority matrix, numbering and the timeline."""

import threading

import pytest
from django.db import connection

from core.errors import DomainError
from incidents import services
from incidents.models import (
    Category,
    Incident,
    IncidentSequence,
    PriorityRule,
    TimelineEntry,
)
from incidents.priority import DEFAULT_MATRIX
from incidents.states import TRANSITIONS, Status
from tenancy.models import Role

pytestmark = pytest.mark.django_db


def create(org, actor=None, **fields):
    return services.incident_create(
        organization=org, actor=actor, title=fields.pop("title", "Broken"), **fields
    )


def move(org, incident, *path, actor=None):
    for status in path:
        incident = services.incident_transition(
            organization=org,
            actor=actor,
            incident=incident,
            status=status,
            resolution="Fixed it." if status == Status.RESOLVED else None,
        )
    return incident


# A way into every state from new, along allowed transitions.
PATHS = {
    Status.NEW: [],
    Status.ACKNOWLEDGED: [Status.ACKNOWLEDGED],
    Status.IN_PROGRESS: [Status.IN_PROGRESS],
    Status.ON_HOLD: [Status.ON_HOLD],
    Status.RESOLVED: [Status.RESOLVED],
    Status.CLOSED: [Status.RESOLVED, Status.CLOSED],
    Status.CANCELLED: [Status.CANCELLED],
}
PAIRS = [(source, target) for source in Status for target in Status]


def test_new_organizations_get_categories_matrix_and_sequence(org):
    assert set(Category.objects.for_org(org).values_list("slug", flat=True)) == {
        "software",
        "hardware",
        "network",
        "security",
        "service_request",
        "other",
    }
    cells = {(r.impact, r.urgency): r.priority for r in PriorityRule.objects.for_org(org)}
    assert cells == DEFAULT_MATRIX
    assert IncidentSequence.objects.for_org(org).get().last_number == 0


@pytest.mark.parametrize(("cell", "priority"), sorted(DEFAULT_MATRIX.items()))
def test_priority_follows_the_design_matrix(org, cell, priority):
    impact, urgency = cell
    assert create(org, impact=impact, urgency=urgency).priority == priority


def test_the_matrix_is_per_organization(org, other_org):
    PriorityRule.objects.for_org(org).filter(impact=3, urgency=3).update(priority=4)
    assert create(org, impact=3, urgency=3).priority == 4
    assert create(other_org, impact=3, urgency=3).priority == 5


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_every_transition_of_the_state_table(org, source, target):
    incident = move(org, create(org), *PATHS[source])
    assert incident.status == source
    if target in TRANSITIONS[source]:
        moved = move(org, incident, target)
        assert moved.status == target
        entry = TimelineEntry.objects.for_org(org).filter(incident=incident).last()
        assert entry.data == {"from": source, "to": target}
    else:
        with pytest.raises(services.InvalidTransition) as refused:
            move(org, incident, target)
        assert refused.value.allowed == list(TRANSITIONS[source])
        assert refused.value.status_code == 409
        assert Incident.objects.for_org(org).get(pk=incident.pk).status == source


def test_timestamps_follow_the_lifecycle(org):
    incident = create(org)
    assert incident.acknowledged_at is None
    incident = move(org, incident, Status.ACKNOWLEDGED)
    acknowledged = incident.acknowledged_at
    assert acknowledged is not None
    incident = move(org, incident, Status.IN_PROGRESS, Status.RESOLVED)
    assert incident.acknowledged_at == acknowledged
    assert incident.resolved_at is not None
    reopened = move(org, incident, Status.IN_PROGRESS)
    assert reopened.resolved_at is None
    closed = move(org, reopened, Status.RESOLVED, Status.CLOSED)
    assert closed.closed_at is not None


def test_resolving_needs_a_resolution_except_from_alerts(org):
    incident = create(org)
    with pytest.raises(DomainError, match="resolved") as refused:
        services.incident_transition(
            organization=org, actor=None, incident=incident, status=Status.RESOLVED
        )
    assert refused.value.field == "resolution"
    alert = create(org, source=Incident.Source.ALERT)
    resolved = services.incident_transition(
        organization=org, actor=None, incident=alert, status=Status.RESOLVED
    )
    assert resolved.status == Status.RESOLVED


def test_numbers_are_per_organization_and_sequential(org, other_org):
    assert [create(org).number for _ in range(3)] == [1, 2, 3]
    assert create(other_org).number == 1
    assert create(org).reference == "INC-4"


def test_a_rolled_back_creation_leaves_no_gap(org):
    from django.db import transaction

    create(org)

    def fails_after_creating():
        with transaction.atomic():
            create(org)
            raise RuntimeError("the request failed after creating")

    with pytest.raises(RuntimeError):
        fails_after_creating()
    assert create(org).number == 2


def test_updates_recompute_priority_and_write_the_timeline(org, member):
    responder = member(Role.RESPONDER)
    incident = create(org, impact=3, urgency=3)
    updated = services.incident_update(
        organization=org,
        actor=responder,
        incident=incident,
        impact=1,
        urgency=1,
        assignee=responder,
    )
    assert updated.priority == 1
    kinds = list(
        TimelineEntry.objects.for_org(org).filter(incident=incident).values_list("kind", "data")
    )
    assert ("assigned", {"field": "assignee", "from": None, "to": responder.username}) in kinds
    assert ("field_changed", {"field": "impact", "from": 3, "to": 1}) in kinds


def test_an_override_keeps_its_priority_until_removed(org, member):
    incident = create(org, impact=3, urgency=3)
    with pytest.raises(DomainError):
        services.incident_override_priority(
            organization=org, actor=None, incident=incident, priority=1, reason=" "
        )
    overridden = services.incident_override_priority(
        organization=org, actor=None, incident=incident, priority=1, reason="CEO demo today"
    )
    assert overridden.priority == 1
    still = services.incident_update(organization=org, actor=None, incident=incident, urgency=2)
    assert still.priority == 1


def test_nothing_changes_means_no_timeline_entry(org):
    incident = create(org, title="Same")
    before = TimelineEntry.objects.for_org(org).count()
    services.incident_update(organization=org, actor=None, incident=incident, title="Same")
    assert TimelineEntry.objects.for_org(org).count() == before


def test_other_organizations_objects_cannot_be_attached(org, other_org):
    their_category = Category.objects.for_org(other_org).first()
    with pytest.raises(DomainError):
        create(org, category=their_category)
    incident = create(org)
    with pytest.raises(DomainError):
        services.incident_update(
            organization=org, actor=None, incident=incident, category=their_category
        )
    with pytest.raises(Incident.DoesNotExist):
        services.incident_transition(
            organization=other_org, actor=None, incident=incident, status=Status.CANCELLED
        )


def test_timeline_entries_are_immutable(org):
    incident = create(org)
    entry = TimelineEntry.objects.for_org(org).get(incident=incident)
    entry.body = "rewritten"
    with pytest.raises(TypeError):
        entry.save()


def test_comments_and_updates(org, member):
    responder = member(Role.RESPONDER)
    incident = create(org)
    with pytest.raises(DomainError):
        services.incident_comment(organization=org, actor=responder, incident=incident, body="  ")
    note = services.incident_comment(
        organization=org, actor=responder, incident=incident, body="Looking at the logs."
    )
    update = services.incident_post_update(
        organization=org, actor=responder, incident=incident, body="Mitigated."
    )
    assert (note.kind, note.is_public, note.actor_label) == ("comment", False, responder.username)
    assert (update.kind, update.is_public) == ("status_update", True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_get_distinct_gapless_numbers(org):
    errors, numbers = [], []

    def worker():
        try:
            for _ in range(5):
                numbers.append(create(org).number)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 41))
