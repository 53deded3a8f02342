"""Idempotency-Key on POST /api/v1/orgs/<org>/incidents/: a retry creates nothing twice."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from incidents.api.idempotency import principal_of
from incidents.models import IdempotencyKey, Incident
from tenancy import rls
from tenancy.models import ApiKey, Role
from tests.conftest import see

pytestmark = pytest.mark.django_db

BODY = {"title": "Checkout is down", "impact": 1, "urgency": 1, "tags": ["web", "eu"]}


def url(org):
    return reverse("incident-list", kwargs={"org": org.slug})


def post(client, org, body=BODY, key="key-1"):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(url(org), body, format="json", **headers)


def count(org) -> int:
    return Incident.objects.for_org(org).count()


@pytest.fixture
def responder(member):
    return member(Role.RESPONDER)


@pytest.fixture
def client(api_client_for, responder):
    return api_client_for(responder)


def test_a_repeat_replays_the_first_response(org, client):
    first = post(client, org)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    again = post(client, org, body=dict(reversed(list(BODY.items()))))  # same body, reordered
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert count(org) == 1
    row = IdempotencyKey.objects.for_org(org).get()
    assert row.status == IdempotencyKey.State.DONE
    assert row.response_status == 201


def test_without_a_key_every_post_creates(org, client):
    assert post(client, org, key=None).status_code == 201
    assert post(client, org, key=None).status_code == 201
    assert count(org) == 2
    assert not IdempotencyKey.objects.for_org(org).exists()


def test_the_same_key_with_another_body_is_422(org, client):
    assert post(client, org).status_code == 201
    response = post(client, org, body={**BODY, "title": "Something else"})
    assert response.status_code == 422
    assert "different request" in response.json()["idempotency_key"][0]
    assert count(org) == 1


def test_a_request_still_in_flight_is_409(org, client, responder):
    body = json.dumps(BODY, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(f"POST\n{url(org)}\n{body}".encode()).hexdigest()
    IdempotencyKey.objects.create(
        organization=org, key="key-1", principal=f"user:{responder.pk}", request_hash=digest
    )
    response = post(client, org)
    assert response.status_code == 409
    assert "in progress" in response.json()["idempotency_key"][0]
    assert count(org) == 0


def test_an_in_flight_key_with_another_body_is_422(org, client, responder):
    IdempotencyKey.objects.create(
        organization=org, key="key-1", principal=f"user:{responder.pk}", request_hash="0" * 64
    )
    assert post(client, org).status_code == 422
    assert count(org) == 0


def test_after_24_hours_a_key_is_new_again(org, client):
    first = post(client, org)
    IdempotencyKey.objects.for_org(org).update(created_at=timezone.now() - timedelta(hours=25))
    again = post(client, org)
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert again.json()["number"] != first.json()["number"]
    assert count(org) == 2
    assert IdempotencyKey.objects.for_org(org).count() == 1  # replaced
    # Within 24 h of the new one: replayed.
    assert post(client, org)["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("key", ["", " ", "k" * 256])
def test_empty_or_too_long_keys_are_400(org, client, key):
    response = post(client, org, key=key)
    assert response.status_code == 400
    assert "idempotency_key" in response.json()
    assert count(org) == 0


def test_a_key_of_255_characters_is_fine(org, client):
    assert post(client, org, key="k" * 255).status_code == 201
    assert post(client, org, key="k" * 255)["Idempotent-Replayed"] == "true"


def test_a_failed_request_does_not_keep_the_key(org, client):
    response = post(client, org, body={"title": ""})
    assert response.status_code == 400
    assert not IdempotencyKey.objects.for_org(org).exists()
    assert post(client, org).status_code == 201  # the corrected retry, same key


def test_keys_are_per_principal(org, client, member, api_client_for, api_key_for):
    assert post(client, org).status_code == 201
    other = api_client_for(member(Role.RESPONDER))
    assert "Idempotent-Replayed" not in post(other, org)
    raw = api_key_for(Role.RESPONDER)
    by_key = api_client_for(raw)
    assert "Idempotent-Replayed" not in post(by_key, org)
    assert post(by_key, org)["Idempotent-Replayed"] == "true"
    assert count(org) == 3
    key = ApiKey.objects.for_org(org).get()
    principals = set(IdempotencyKey.objects.for_org(org).values_list("principal", flat=True))
    assert f"key:{key.pk}" in principals
    assert len(principals) == 3


def test_keys_are_per_organization(org, other_org, responder, api_client_for):
    from tenancy import services as tenancy_services

    tenancy_services.membership_create(
        organization=other_org, actor=None, user=responder, role=Role.RESPONDER
    )
    client = api_client_for(responder)
    ours = post(client, org)
    theirs = post(client, other_org)
    assert ours.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    see(org, other_org)
    assert count(org) == count(other_org) == 1
    assert IdempotencyKey.objects.for_org(other_org).count() == 1


def test_another_organizations_key_is_not_replayed(org, other_org, member, api_client_for):
    """A member of Globex using Acme's key sees nothing of Acme's stored response."""
    assert post(api_client_for(member(Role.RESPONDER)), org).status_code == 201
    theirs = api_client_for(member(Role.RESPONDER, organization=other_org))
    response = post(theirs, other_org)
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert post(theirs, org).status_code == 404  # not a member of Acme


def test_principal_names():
    class User:
        pk = 7

    assert principal_of(User()) == "user:7"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("credential", ["session", "api_key"])
def test_concurrent_duplicates_create_exactly_one_incident(
    org, member, api_key_for, api_client_for, credential
):
    principal = member(Role.RESPONDER) if credential == "session" else api_key_for(Role.RESPONDER)
    statuses, errors = [], []
    barrier = threading.Barrier(10)

    def worker():
        try:
            client = api_client_for(principal)
            barrier.wait()
            response = post(client, org)
            statuses.append((response.status_code, response.get("Idempotent-Replayed")))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(statuses) == 10
    codes = sorted(code for code, _ in statuses)
    assert set(codes) <= {201, 409}
    assert [s for s in statuses if s == (201, None)] == [(201, None)]  # one did the work
    with rls.tenant_context(org.pk):
        assert count(org) == 1
        row = IdempotencyKey.objects.for_org(org).get()
        assert row.status == IdempotencyKey.State.DONE


def test_an_abandoned_in_flight_key_is_taken_over(org, client, responder):
    """A request that died without cleaning up blocks its key for minutes, not 24 h."""
    IdempotencyKey.objects.create(
        organization=org,
        key="key-1",
        principal=f"user:{responder.pk}",
        request_hash="0" * 64,
        created_at=timezone.now() - timedelta(minutes=11),
    )
    response = post(client, org)
    assert response.status_code == 201
    assert count(org) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_key_whose_request_rolled_back_after_the_view_is_free_at_once(org, client):
    """The claim commits on a second connection; the work rolls back with the request.

    The outer ``atomic`` stands for the request's transaction failing after the view
    returned (a middleware error, a failed commit)."""
    statuses = []

    def request_then_fail():
        with transaction.atomic():
            statuses.append(post(client, org).status_code)
            raise RuntimeError("the request's transaction rolls back")

    with pytest.raises(RuntimeError):
        request_then_fail()
    assert statuses == [201]
    with rls.tenant_context(org.pk):
        assert count(org) == 0
        assert IdempotencyKey.objects.for_org(org).get().status == IdempotencyKey.State.IN_FLIGHT
    response = post(client, org)
    assert response.status_code == 201  # not 409 for ten minutes
    assert response.get("Idempotent-Replayed") is None
    with rls.tenant_context(org.pk):
        assert count(org) == 1
        assert IdempotencyKey.objects.for_org(org).get().status == IdempotencyKey.State.DONE


def test_keys_past_24_hours_are_purged_in_every_organization(org, other_org, client, responder):
    from incidents import tasks

    post(client, org)
    see(org, other_org)
    old = IdempotencyKey.objects.create(
        organization=other_org,
        key="old",
        principal="user:1",
        request_hash="0" * 64,
        status=IdempotencyKey.State.DONE,
        created_at=timezone.now() - timedelta(hours=25),
    )
    assert tasks.purge_idempotency_keys() == [org.pk, other_org.pk]
    see(org, other_org)
    assert not IdempotencyKey.objects.for_org(other_org).filter(pk=old.pk).exists()
    assert IdempotencyKey.objects.for_org(org).count() == 1  # still within its 24 hours
    with time_machine.travel(timezone.now() + timedelta(hours=25), tick=False):
        assert tasks.purge_idempotency_keys_organization(org.pk) == 1
        assert tasks.purge_idempotency_keys_organization(org.pk) == 0  # idempotent
    see(org)
    assert not IdempotencyKey.objects.for_org(org).exists()


def test_the_purge_reaches_deactivated_organizations_too(org, other_org, monkeypatch):
    from incidents import tasks

    other_org.is_active = False
    other_org.save()
    sent = []
    monkeypatch.setattr(tasks.purge_idempotency_keys_organization, "delay", sent.append)
    assert tasks.purge_idempotency_keys() == [org.pk, other_org.pk]
    assert sent == [org.pk, other_org.pk]
