"""The four alert severities, the words other tools use for them, and how each sets up the
incident an alert opens: the defaults below, with a service's :class:`SeverityMap` over
them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError

from incidents.models import Level, Severity

SEVERITIES = ("critical", "error", "warning", "info")
# Words other tools use for the four severities (lower case).
SEVERITY_ALIASES = {
    "critical": "critical",
    "crit": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "disaster": "critical",
    "page": "critical",
    "p1": "critical",
    "error": "error",
    "err": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "average": "warning",
    "minor": "warning",
    "p3": "warning",
    "info": "info",
    "informational": "info",
    "low": "info",
    "none": "info",
    "p4": "info",
    "p5": "info",
}
# A new incident's impact, urgency and severity per alert severity; a service may override
# any of them with its severity map.
DEFAULT_SEVERITY_MAP = {
    "critical": {"impact": Level.HIGH, "urgency": Level.HIGH, "severity": Severity.SEV1},
    "error": {"impact": Level.MEDIUM, "urgency": Level.HIGH, "severity": Severity.SEV2},
    "warning": {"impact": Level.MEDIUM, "urgency": Level.MEDIUM, "severity": Severity.SEV3},
    "info": {"impact": Level.LOW, "urgency": Level.LOW, "severity": Severity.SEV4},
}
OVERRIDABLE = ("impact", "urgency", "severity")


def normalize_severity(value: Any, default: str = "warning") -> str:
    if not isinstance(value, str):
        return default
    return SEVERITY_ALIASES.get(value.strip().lower(), default)


def validate_severity_map(value) -> None:
    """``{"<alert severity>": {"impact": 1-3, "urgency": 1-3, "severity": "sev1"…}}``."""
    if value in (None, ""):
        return
    if not isinstance(value, dict):
        raise ValidationError("Give an object keyed by alert severity.")
    for name, fields in value.items():
        if name not in SEVERITIES:
            raise ValidationError(f"Unknown alert severity {name!r}: use {', '.join(SEVERITIES)}.")
        if not isinstance(fields, dict):
            raise ValidationError(f"{name}: give an object with impact, urgency and/or severity.")
        for key, item in fields.items():
            if key not in OVERRIDABLE:
                raise ValidationError(f"{name}: unknown field {key!r}.")
            if key in ("impact", "urgency") and (
                isinstance(item, bool) or item not in Level.values
            ):
                raise ValidationError(f"{name}.{key}: use 1, 2 or 3.")
            if key == "severity" and item not in Severity.values:
                raise ValidationError(f"{name}.severity: use one of {', '.join(Severity.values)}.")


def overrides_of(service) -> dict:
    """The service's map (``{}`` without one); select ``severity_map`` with the service to
    read it without a query."""
    try:
        return service.severity_map.levels
    except ObjectDoesNotExist:
        return {}


def incident_fields(service, severity: str) -> dict[str, Any]:
    """impact, urgency and severity for an incident an alert of this severity opens: the
    defaults, with the service's map (validated when saved) over them."""
    fields = dict(DEFAULT_SEVERITY_MAP[severity])
    overrides = overrides_of(service)
    if isinstance(overrides.get(severity), dict):
        fields.update(overrides[severity])
    return fields
