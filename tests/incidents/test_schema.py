import pytest

pytestmark = pytest.mark.django_db


def test_the_incident_operations_are_documented_with_examples(client):
    schema = client.get("/api/schema/?format=json").json()
    incidents = schema["paths"]["/api/v1/orgs/{org}/incidents/"]["post"]
    created = incidents["requestBody"]["content"]["application/json"]["examples"]
    assert list(created) == ["ReportAnOutage"]
    assert any(
        p["name"] == "Idempotency-Key" and p["in"] == "header" for p in incidents["parameters"]
    )
    patch = schema["paths"]["/api/v1/orgs/{org}/incidents/{number}/"]["patch"]
    examples = patch["requestBody"]["content"]["application/json"]["examples"]
    assert {"Acknowledge", "Resolve", "OverrideThePriority"} <= set(examples)
    conflict = patch["responses"]["409"]["content"]["application/json"]["examples"]
    assert any("allowed" in example["value"] for example in conflict.values())
