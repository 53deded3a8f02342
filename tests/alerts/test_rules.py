"""Rules every ingestion endpoint follows: severity mapping, refusing bad input with a clear
4xx and storing nothing, tenant isolation, the per-integration rate limit, and the
conflict when an alert's resolved incident is reopened while a newer one holds its key."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache

from alerts.models import Alert, ChangeEvent, Integration, SeverityMap
from alerts.severities import DEFAULT_SEVERITY_MAP
from incidents.models import Incident, TimelineEntry
from tenancy.models import Role
from tests.conftest import see

Kind = Integration.Kind
MODELS = (Alert, ChangeEvent, Incident, TimelineEntry)
LIMIT = 512 * 1024


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()  # the rate limit counts requests in the cache
    yield
    cache.clear()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.unscoped().count() for model in MODELS}


def snapshot() -> dict[str, list[dict]]:
    """Every stored row, every field: a refused request must change none of them."""
    return {
        model.__name__: list(model.objects.unscoped().order_by("pk").values()) for model in MODELS
    }


# --- The endpoints, described once ----------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    kind: str
    path: Callable[[str], str]
    valid: Callable[[str], dict[str, Any]]  # a valid body for this key
    invalid_status: int = 400  # a body that does not parse or validate
    unknown_key_status: int = 404
    genie: bool = False  # the key goes in Authorization: GenieKey

    def send(self, client, key: str, data: bytes | str, **extra):
        if self.genie:
            extra.setdefault("HTTP_AUTHORIZATION", f"GenieKey {key}")
        return client.post(self.path(key), data=data, content_type="application/json", **extra)

    def send_json(self, client, key: str, body: Any, **extra):
        return self.send(client, key, json.dumps(body), **extra)


def _pd_trigger(key):
    return {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "rules",
        "payload": {"summary": "Queue backed up", "source": "worker-1", "severity": "error"},
    }


def _am_notification(key):
    return {
        "version": "4",
        "status": "firing",
        "receiver": "beacon",
        "groupLabels": {"alertname": "QueueDepth"},
        "commonLabels": {"alertname": "QueueDepth"},
        "commonAnnotations": {"summary": "Queue backed up"},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "QueueDepth", "severity": "warning"},
                "annotations": {"summary": "Queue backed up"},
                "startsAt": "2026-11-28T09:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "f1",
            }
        ],
    }


ENDPOINTS = {
    endpoint.name: endpoint
    for endpoint in (
        Endpoint("pagerduty", Kind.PAGERDUTY, lambda key: "/v2/enqueue", _pd_trigger),
        Endpoint(
            "pagerduty-change",
            Kind.PAGERDUTY,
            lambda key: "/v2/change/enqueue",
            lambda key: {"routing_key": key, "payload": {"summary": "Deployed v2"}},
        ),
        Endpoint(
            "alertmanager",
            Kind.ALERTMANAGER,
            lambda key: f"/integrations/alertmanager/{key}/",
            _am_notification,
        ),
        Endpoint(
            "generic",
            Kind.GENERIC,
            lambda key: f"/integrations/generic/{key}/",
            lambda key: {"summary": "Queue backed up", "dedup_key": "rules"},
        ),
        Endpoint(
            "opsgenie-create",
            Kind.OPSGENIE,
            lambda key: "/v2/alerts",
            lambda key: {"message": "Queue backed up", "alias": "rules"},
            invalid_status=422,
            unknown_key_status=401,
            genie=True,
        ),
        Endpoint(
            "opsgenie-acknowledge",
            Kind.OPSGENIE,
            lambda key: "/v2/alerts/base/acknowledge?identifierType=alias",
            lambda key: {"note": "on it"},
            invalid_status=422,
            unknown_key_status=401,
            genie=True,
        ),
        Endpoint(
            "opsgenie-close",
            Kind.OPSGENIE,
            lambda key: "/v2/alerts/base/close?identifierType=alias",
            lambda key: {"note": "fixed"},
            invalid_status=422,
            unknown_key_status=401,
            genie=True,
        ),
    )
}


@pytest.fixture
def world(integration, client):
    """One integration of each kind, each with an open incident and its rows stored."""
    made = {kind: integration(kind) for kind in Kind.values}
    pd, am, og, gen = (made[k] for k in Kind.values)
    for endpoint, key in (
        (ENDPOINTS["pagerduty"], pd.key),
        (ENDPOINTS["alertmanager"], am.key),
        (ENDPOINTS["generic"], gen.key),
    ):
        assert endpoint.send_json(client, key, endpoint.valid(key)).status_code == 202
    base = {"message": "Base alert", "alias": "base"}
    assert ENDPOINTS["opsgenie-create"].send_json(client, og.key, base).status_code == 202
    change = ENDPOINTS["pagerduty-change"]
    assert change.send_json(client, pd.key, change.valid(pd.key)).status_code == 202
    assert counts() == {"Alert": 4, "ChangeEvent": 1, "Incident": 4, "TimelineEntry": 4}
    cache.clear()
    return made


# --- Severity mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", (1, 1, "sev1", 1)),
        ("error", (2, 1, "sev2", 2)),
        ("warning", (2, 2, "sev3", 3)),
        ("info", (3, 3, "sev4", 5)),
    ],
)
def test_default_severity_map(client, integration, severity, expected):
    impact, urgency, sev, _ = expected
    assert DEFAULT_SEVERITY_MAP[severity] == {
        "impact": impact,
        "urgency": urgency,
        "severity": sev,
    }
    generic = integration(Kind.GENERIC)

    response = ENDPOINTS["generic"].send_json(
        client, generic.key, {"summary": "x", "severity": severity}
    )

    assert response.status_code == 202
    incident = Incident.objects.unscoped().get()
    assert (incident.impact, incident.urgency, incident.severity, incident.priority) == expected
    assert Alert.objects.unscoped().get().severity == severity


def test_per_service_severity_override(client, integration):
    pd = integration(Kind.PAGERDUTY)
    service = pd.service
    SeverityMap.objects.create(
        organization=service.organization,
        service=service,
        levels={"warning": {"impact": 1, "severity": "sev2"}},
    )

    warning = _pd_trigger(pd.key) | {"dedup_key": "w"}
    warning["payload"] = warning["payload"] | {"severity": "warning"}
    critical = _pd_trigger(pd.key) | {"dedup_key": "c"}
    critical["payload"] = critical["payload"] | {"severity": "critical"}
    assert ENDPOINTS["pagerduty"].send_json(client, pd.key, warning).status_code == 202
    assert ENDPOINTS["pagerduty"].send_json(client, pd.key, critical).status_code == 202

    overridden = Incident.objects.unscoped().get(dedup_key="w")
    # impact and severity from the override, urgency from the default; the matrix: 1x2 -> P2
    assert (overridden.impact, overridden.urgency, overridden.severity) == (1, 2, "sev2")
    assert overridden.priority == 2
    untouched = Incident.objects.unscoped().get(dedup_key="c")
    assert (untouched.impact, untouched.urgency, untouched.severity) == (1, 1, "sev1")


def test_the_override_applies_to_its_own_service_only(client, integration):
    overridden = integration(Kind.GENERIC)
    SeverityMap.objects.create(
        organization=overridden.organization,
        service=overridden.service,
        levels={"info": {"urgency": 1}},
    )
    plain = integration(Kind.GENERIC)

    for item in (overridden, plain):
        ENDPOINTS["generic"].send_json(
            client, item.key, {"summary": "x", "severity": "info", "dedup_key": "k"}
        )

    assert Incident.objects.unscoped().get(alert_group__integration=overridden).urgency == 1
    assert Incident.objects.unscoped().get(alert_group__integration=plain).urgency == 3


# --- Bad input: every endpoint answers a clear 4xx and stores nothing -------------------------


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def _set(path: str, value: Any) -> Callable[[dict], dict]:
    """A mutation setting a dotted path ("payload.summary", "alerts.0.labels.severity")."""

    def mutate(body: dict) -> dict:
        target = body
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is _DELETE:
            target.pop(last)
        else:
            target[last] = value
        return body

    return mutate


_DELETE = object()

# case -> {endpoint: mutation of the valid body}; "*" applies to every endpoint.
BODY_CASES: dict[str, dict[str, Callable[[dict], dict]]] = {
    "summary as a number": {
        "pagerduty": _set("payload.summary", 42),
        "pagerduty-change": _set("payload.summary", 42),
        "generic": _set("summary", 42),
        "opsgenie-create": _set("message", 42),
        "opsgenie-acknowledge": _set("note", 42),
        "opsgenie-close": _set("note", 42),
    },
    "labels not strings": {
        "alertmanager": _set("alerts.0.labels.severity", 3),
        "opsgenie-create": _set("tags", [1, 2]),
    },
    "annotations not an object": {"alertmanager": _set("alerts.0.annotations", ["summary"])},
    "unknown event_action": {
        "pagerduty": _set("event_action", "escalate"),
        "generic": _set("action", "escalate"),
    },
    "missing summary": {
        "pagerduty": _set("payload.summary", _DELETE),
        "pagerduty-change": _set("payload.summary", _DELETE),
        "generic": _set("summary", _DELETE),
        "opsgenie-create": _set("message", _DELETE),
    },
    "bad timestamp": {
        "pagerduty": _set("payload.timestamp", "28/11/2026 09:00"),
        "pagerduty-change": _set("payload.timestamp", "yesterday"),
        "alertmanager": _set("alerts.0.startsAt", "2026-11-28T09:00:00"),  # no time zone
        "generic": _set("timestamp", "2026-13-45T99:00:00Z"),
    },
    "NUL in a string": {
        "pagerduty": _set("payload.summary", "disk\x00full"),
        "pagerduty-change": _set("payload.summary", "deploy\x00"),
        "alertmanager": _set("alerts.0.annotations.summary", "\x00"),
        "generic": _set("summary", "a\x00b"),
        "opsgenie-create": _set("message", "a\x00b"),
        "opsgenie-acknowledge": _set("note", "a\x00b"),
        "opsgenie-close": _set("user", "\x00"),
    },
    "NUL in a key": {"*": lambda body: body | {"extra": {"k\x00": 1}}},
    "NUL in a nested value": {"*": lambda body: body | {"extra": [[{"x": ["\x00"]}]]}},
}

# case -> raw body (a str, with "KEY" standing for the integration's key)
RAW_CASES: dict[str, str] = {
    "malformed JSON": '{"routing_key": "KEY", "payload": {',
    "trailing garbage": '{"routing_key": "KEY"} x',
    "NaN is not JSON": '{"routing_key": "KEY", "value": NaN}',
    "not UTF-8": '{"routing_key": "KEY", "summary": "\udcff"}',
    "a list, not an object": '[{"routing_key": "KEY"}]',
    "a string, not an object": '"KEY"',
    "a number, not an object": "42",
    "null": "null",
    "an unpaired surrogate escape": '{"routing_key": "KEY", "summary": "a\\ud800b"}',
    "an unpaired surrogate in a key": '{"routing_key": "KEY", "x": {"\\udfff": 1}}',
    "a number too large for a float": '{"routing_key": "KEY", "n": 1e999}',
    "a number too small for a float": '{"routing_key": "KEY", "n": [-1e999]}',
    "raw NUL byte": '{"routing_key": "KEY", "summary": "a\x00b"}',
    "100000 levels deep": _deep(100_000),
    "100000 levels deep inside an object": '{"routing_key": "KEY", "payload": '
    + _deep(100_000)
    + "}",
}

BODY_MATRIX = [
    pytest.param(endpoint, case, id=f"{endpoint}-{case}")
    for case, mutations in BODY_CASES.items()
    for endpoint in ENDPOINTS
    if endpoint in mutations or "*" in mutations
]


def _key_for(world, endpoint: Endpoint) -> str:
    return world[endpoint.kind].key


def _assert_refused_json(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict)
    assert body["message"]
    return body


@pytest.mark.parametrize(("name", "case"), BODY_MATRIX)
def test_invalid_body_is_refused_and_nothing_stored(client, world, name, case):
    endpoint = ENDPOINTS[name]
    key = _key_for(world, endpoint)
    mutations = BODY_CASES[case]
    body = (mutations.get(name) or mutations["*"])(endpoint.valid(key))
    before = snapshot()

    response = endpoint.send_json(client, key, body)

    refused = _assert_refused_json(response, endpoint.invalid_status)
    assert refused["errors"]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "case"),
    [
        (name, case)
        for name in ENDPOINTS
        for case in RAW_CASES
        # Their body is optional: null is no body (see the test below).
        if not (case == "null" and name in ("opsgenie-acknowledge", "opsgenie-close"))
    ],
)
def test_unparseable_body_is_refused_and_nothing_stored(client, world, name, case):
    endpoint = ENDPOINTS[name]
    key = _key_for(world, endpoint)
    raw = RAW_CASES[case].replace("KEY", key).encode("utf-8", "surrogateescape")
    before = snapshot()

    response = endpoint.send(client, key, raw)

    refused = _assert_refused_json(response, endpoint.invalid_status)
    assert refused["errors"]
    assert snapshot() == before


@pytest.mark.parametrize("raw", ["", "null", "{}"])
def test_opsgenie_acknowledge_body_is_optional(client, world, raw):
    key = world[Kind.OPSGENIE].key

    response = ENDPOINTS["opsgenie-acknowledge"].send(client, key, raw)

    assert response.status_code == 202
    acknowledged = Alert.objects.unscoped().get(action="acknowledge")
    assert (acknowledged.outcome, acknowledged.payload) == ("acknowledged", {"alias": "base"})
    assert Incident.objects.unscoped().get(dedup_key="base").status == "acknowledged"


def test_surrogate_pairs_and_large_finite_numbers_are_accepted(client, world):
    key = world[Kind.GENERIC].key
    raw = '{"summary": "on fire \\ud83d\\udd25", "dedup_key": "emoji", "details": {"n": 1e308}}'

    response = ENDPOINTS["generic"].send(client, key, raw)

    assert response.status_code == 202
    alert = Alert.objects.unscoped().get(dedup_key="emoji")
    assert alert.summary == "on fire \U0001f525"
    assert float(alert.payload["details"]["n"]) == 1e308  # PostgreSQL gives it back as an int


def test_unpaired_surrogate_is_named_in_the_error(client, world):
    key = world[Kind.GENERIC].key

    response = ENDPOINTS["generic"].send(client, key, '{"summary": "\\ud800"}')

    assert response.status_code == 400
    assert response.json()["errors"] == [
        "Strings may not contain unpaired surrogates (\\ud800-\\udfff)."
    ]


def test_nul_is_named_in_the_error(client, world):
    body = _pd_trigger(world[Kind.PAGERDUTY].key)
    body["payload"]["summary"] = "a\x00b"

    response = ENDPOINTS["pagerduty"].send_json(client, body["routing_key"], body)

    assert response.status_code == 400
    assert response.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["Strings may not contain NUL characters (\\u0000)."],
    }


def test_deep_nesting_is_named_in_the_error(client, world):
    response = ENDPOINTS["generic"].send(client, world[Kind.GENERIC].key, _deep(100_000))

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error.startswith("The body is not valid JSON: ")


def _padded(endpoint: Endpoint, key: str, size: int) -> bytes:
    """The endpoint's valid body padded with an extra field to exactly `size` bytes."""
    body = endpoint.valid(key) | {"padding": ""}
    raw = json.dumps(body)
    body["padding"] = "x" * (size - len(raw))
    raw = json.dumps(body).encode()
    assert len(raw) == size
    return raw


@pytest.mark.parametrize("name", ENDPOINTS)
def test_oversized_body_is_413_and_nothing_stored(client, world, name):
    endpoint = ENDPOINTS[name]
    key = _key_for(world, endpoint)
    before = snapshot()

    response = endpoint.send(client, key, _padded(endpoint, key, LIMIT + 1))

    body = _assert_refused_json(response, 413)
    assert body["message"] == "The body is larger than 512 KB"
    assert body["errors"] == ["Body too large"]
    assert snapshot() == before


@pytest.mark.parametrize("name", ["pagerduty", "generic", "opsgenie-create"])
def test_a_body_of_exactly_512_kb_is_accepted(client, world, name):
    endpoint = ENDPOINTS[name]
    key = _key_for(world, endpoint)

    response = endpoint.send(client, key, _padded(endpoint, key, LIMIT))

    assert response.status_code == 202
    assert len(Alert.objects.unscoped().first().payload["padding"]) > 500_000


def test_a_declared_length_over_the_limit_is_413_whatever_is_sent(client, world):
    """A Content-Length that overstates the body: refused on the declared size, unread."""
    pd = ENDPOINTS["pagerduty"]
    key = world[Kind.PAGERDUTY].key
    before = snapshot()

    response = pd.send_json(client, key, _pd_trigger(key), CONTENT_LENGTH=str(LIMIT + 1))

    assert response.status_code == 413
    assert response.json()["status"] == "invalid event"
    assert snapshot() == before


def test_an_understated_content_length_cuts_the_body_and_is_refused(client, world):
    """A Content-Length that understates a large body: only the declared bytes are read,
    which are not a whole JSON document, so it is refused (400), not stored, not a 500."""
    pd = ENDPOINTS["pagerduty"]
    key = world[Kind.PAGERDUTY].key
    before = snapshot()

    response = pd.send(client, key, _padded(pd, key, LIMIT * 2), CONTENT_LENGTH="100")

    assert response.status_code == 400
    assert response.json()["errors"][0].startswith("The body is not valid JSON")
    assert snapshot() == before


# --- Keys ------------------------------------------------------------------------------------


def _with_key(endpoint: Endpoint, valid_key: str, sent_key: str):
    """(key for the URL/header, body) sending `sent_key` where the endpoint expects it."""
    body = endpoint.valid(valid_key)
    if "routing_key" in body:
        body["routing_key"] = sent_key
    return sent_key, body


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        pytest.param(name, sent, id=f"{name}-{sent!r}")
        for name in ENDPOINTS
        for sent in ["0" * 32, "", "x" * 65, "' OR 1=1 --", "../../etc/passwd", "a\x00b"]
        # An empty key is no URL of the endpoints that carry the key in their path.
        if sent or ENDPOINTS[name].genie or "routing_key" in ENDPOINTS[name].valid("k")
    ],
)
def test_unknown_key_is_refused_and_nothing_stored(client, world, name, sent):
    endpoint = ENDPOINTS[name]
    url_key, body = _with_key(endpoint, _key_for(world, endpoint), sent)
    before = snapshot()

    response = endpoint.send_json(client, url_key, body)

    assert 400 <= response.status_code < 500
    if sent == "0" * 32:
        assert response.status_code == endpoint.unknown_key_status
        assert "Invalid key" in response.json()["errors"]
    assert snapshot() == before


@pytest.mark.parametrize("name", ENDPOINTS)
def test_revoked_key_is_refused_and_nothing_stored(client, world, name):
    endpoint = ENDPOINTS[name]
    integration = world[endpoint.kind]
    integration.is_active = False
    integration.save()
    before = snapshot()

    response = endpoint.send_json(client, integration.key, endpoint.valid(integration.key))

    assert response.status_code == endpoint.unknown_key_status
    assert response.json()["errors"] == ["Invalid key"]
    assert snapshot() == before


def _without_request_ids(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k not in ("took", "requestId")}


@pytest.mark.parametrize("name", ENDPOINTS)
def test_a_deactivated_organization_accepts_nothing(client, world, org, name):
    endpoint = ENDPOINTS[name]
    integration = world[endpoint.kind]
    unknown = "0" * 32
    as_unknown = endpoint.send_json(client, unknown, endpoint.valid(unknown))
    org.is_active = False
    org.save()
    see(org)
    before = snapshot()

    response = endpoint.send_json(client, integration.key, endpoint.valid(integration.key))

    # Answered exactly as an unknown key is, in the tool's own shape, and nothing stored.
    assert response.status_code == as_unknown.status_code == endpoint.unknown_key_status
    assert _without_request_ids(response.json()) == _without_request_ids(as_unknown.json())
    assert snapshot() == before


@pytest.mark.parametrize("name", ENDPOINTS)
def test_key_of_another_kind_is_refused_and_nothing_stored(client, world, name):
    endpoint = ENDPOINTS[name]
    other = world[Kind.GENERIC if endpoint.kind != Kind.GENERIC else Kind.PAGERDUTY]
    url_key, body = _with_key(endpoint, _key_for(world, endpoint), other.key)
    before = snapshot()

    response = endpoint.send_json(client, url_key, body)

    assert response.status_code == 400
    assert response.json()["errors"] == ["Integration kind does not match the endpoint"]
    assert other.get_kind_display() in response.json()["message"]
    assert snapshot() == before


@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods_are_405_json(client, world, name, method):
    endpoint = ENDPOINTS[name]
    key = _key_for(world, endpoint)
    extra = {"HTTP_AUTHORIZATION": f"GenieKey {key}"} if endpoint.genie else {}
    before = snapshot()

    response = getattr(client, method)(endpoint.path(key), **extra)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["Content-Type"] == "application/json"
    assert response.json()["message"] == "Send events with POST."
    assert snapshot() == before


# --- Tenant isolation ------------------------------------------------------------------------


@pytest.fixture
def two_tenants(integration, org, other_org):
    return integration(Kind.PAGERDUTY), integration(Kind.PAGERDUTY, organization=other_org)


def _pd(client, key, event_action, dedup_key="shared"):
    body = (
        _pd_trigger(key) | {"dedup_key": dedup_key}
        if event_action == "trigger"
        else {"routing_key": key, "event_action": event_action, "dedup_key": dedup_key}
    )
    return ENDPOINTS["pagerduty"].send_json(client, key, body)


def test_same_dedup_key_in_another_org_opens_its_own_incident(client, two_tenants, org, other_org):
    a, b = two_tenants
    assert _pd(client, a.key, "trigger").status_code == 202
    a_incident = Incident.objects.unscoped().get()
    a_before = Incident.objects.unscoped().filter(pk=a_incident.pk).values().get()

    response = _pd(client, b.key, "trigger")

    assert response.status_code == 202
    b_incident = Incident.objects.unscoped().exclude(pk=a_incident.pk).get()
    assert (b_incident.organization_id, b_incident.alert_group.integration_id) == (
        other_org.pk,
        b.pk,
    )
    assert (b_incident.number, b_incident.dedup_key) == (1, "shared")  # B's own numbering
    assert Incident.objects.unscoped().filter(pk=a_incident.pk).values().get() == a_before
    assert Alert.objects.unscoped().filter(incident=a_incident).count() == 1
    b_alert = Alert.objects.unscoped().get(integration=b)
    assert (b_alert.organization_id, b_alert.outcome, b_alert.incident_id) == (
        other_org.pk,
        "opened",
        b_incident.pk,
    )

    for event_action in ("acknowledge", "resolve"):
        assert _pd(client, b.key, event_action).status_code == 202

    b_incident.refresh_from_db()
    assert b_incident.status == "resolved"
    assert Incident.objects.unscoped().filter(pk=a_incident.pk).values().get() == a_before
    for model in (Alert, Incident, TimelineEntry):
        rows = model.objects.unscoped()
        assert set(rows.filter(organization=org).values_list("pk", flat=True)) == set(
            rows.filter(organization=org, pk__in=_a_rows(model, a_incident)).values_list(
                "pk", flat=True
            )
        )
    assert TimelineEntry.objects.unscoped().filter(incident=a_incident).count() == 1


def _a_rows(model, incident):
    if model is Incident:
        return [incident.pk]
    return model.objects.unscoped().filter(incident=incident).values_list("pk", flat=True)


def test_another_orgs_key_cannot_resolve_or_acknowledge(client, two_tenants, other_org):
    a, b = two_tenants
    _pd(client, a.key, "trigger")
    a_before = Incident.objects.unscoped().values().get()
    entries = TimelineEntry.objects.unscoped().count()

    for event_action in ("acknowledge", "resolve"):
        response = _pd(client, b.key, event_action)
        assert response.status_code == 202

    assert Incident.objects.unscoped().values().get() == a_before  # still new, untouched
    assert TimelineEntry.objects.unscoped().count() == entries
    dropped = Alert.objects.unscoped().filter(integration=b)
    assert [(x.organization_id, x.outcome, x.incident_id) for x in dropped] == [
        (other_org.pk, "dropped", None),
        (other_org.pk, "dropped", None),
    ]


def test_change_events_land_in_the_keys_organization(client, two_tenants, other_org):
    _, b = two_tenants
    change = ENDPOINTS["pagerduty-change"]

    assert change.send_json(client, b.key, change.valid(b.key)).status_code == 202

    stored = ChangeEvent.objects.unscoped().get()
    assert (stored.organization_id, stored.service_id) == (other_org.pk, b.service_id)


def test_another_orgs_responder_cannot_see_the_alert_incident(
    client, two_tenants, member, api_client_for, other_org
):
    a, _ = two_tenants
    _pd(client, a.key, "trigger")
    outsider = api_client_for(member(Role.RESPONDER, organization=other_org))

    assert outsider.get("/api/v1/orgs/acme/incidents/1/").status_code == 404
    assert outsider.get("/api/v1/orgs/globex/incidents/1/").status_code == 404


# --- Rate limit --------------------------------------------------------------------------------


def test_rate_limit_answers_429_in_pagerdutys_shape_and_stores_nothing(client, integration):
    limited = integration(Kind.PAGERDUTY, rate_limit_per_minute=3)
    other = integration(Kind.PAGERDUTY)
    for number in range(3):
        assert _pd(client, limited.key, "trigger", f"k{number}").status_code == 202
    before = snapshot()

    response = _pd(client, limited.key, "trigger", "k3")

    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert response.json() == {
        "status": "throttle event",
        "message": "Requests for this integration are arriving too quickly. Please retry later.",
    }
    assert snapshot() == before
    assert not Alert.objects.unscoped().filter(dedup_key="k3").exists()

    unaffected = _pd(client, other.key, "trigger", "k3")

    assert unaffected.status_code == 202
    assert Incident.objects.unscoped().get(dedup_key="k3").alert_group.integration_id == other.pk
    assert _pd(client, limited.key, "resolve", "k0").status_code == 429  # still limited


def test_rate_limit_applies_to_webhooks_too(client, integration):
    limited = integration(Kind.GENERIC, rate_limit_per_minute=1)
    generic = ENDPOINTS["generic"]
    assert generic.send_json(client, limited.key, {"summary": "one"}).status_code == 202

    response = generic.send_json(client, limited.key, {"summary": "two"})

    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert response.json()["status"] == "throttled"
    assert Alert.objects.unscoped().count() == 1


# --- Reopening a resolved alert incident ----------------------------------------------------


def test_reopening_while_a_newer_incident_holds_the_key_is_409(
    client, integration, member, api_client_for
):
    pd = integration(Kind.PAGERDUTY)
    _pd(client, pd.key, "trigger", "db")
    _pd(client, pd.key, "resolve", "db")
    _pd(client, pd.key, "trigger", "db")
    old, new = Incident.objects.unscoped().order_by("number")
    assert (old.status, new.status) == ("resolved", "new")
    responder = api_client_for(member(Role.RESPONDER))
    entries = TimelineEntry.objects.unscoped().count()

    response = responder.patch(
        "/api/v1/orgs/acme/incidents/1/", {"status": "in_progress"}, format="json"
    )

    assert response.status_code == 409
    assert "INC-2 is open for the same alert (dedup key 'db')" in json.dumps(response.json())
    old.refresh_from_db()
    assert old.status == "resolved"
    assert old.resolved_at is not None
    assert TimelineEntry.objects.unscoped().count() == entries

    # Once the newer one is resolved, the old one may be reopened.
    _pd(client, pd.key, "resolve", "db")
    reopened = responder.patch(
        "/api/v1/orgs/acme/incidents/1/", {"status": "in_progress"}, format="json"
    )

    assert reopened.status_code == 200
    old.refresh_from_db()
    assert (old.status, old.resolved_at) == ("in_progress", None)
    # And it holds the key again: the next alert for "db" joins it.
    _pd(client, pd.key, "trigger", "db")
    assert Alert.objects.unscoped().first().incident_id == old.pk


@pytest.mark.postgres
@pytest.mark.parametrize("name", ENDPOINTS)
def test_nul_never_reaches_postgresql(client, world, name):
    """PostgreSQL refuses NUL in text and jsonb: the endpoint must refuse it first (4xx),
    not fail in the database (500)."""
    endpoint = ENDPOINTS[name]
    key = _key_for(world, endpoint)
    body = endpoint.valid(key) | {"source": "edge\x00", "details": {"\x00": "\x00"}}
    before = snapshot()

    response = endpoint.send_json(client, key, body)

    assert response.status_code == endpoint.invalid_status
    assert "Strings may not contain NUL characters (\\u0000)." in response.json()["errors"]
    assert snapshot() == before
