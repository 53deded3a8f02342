"""The incident record's models, one module per part; every row carries its organization.

- :mod:`~incidents.models.common`: people named on a row, levels, priorities, severities
- :mod:`~incidents.models.catalog`: services, categories, the priority matrix
- :mod:`~incidents.models.incident`: the incident, its numbering and its timeline
- :mod:`~incidents.models.sla`: SLA targets and business hours
- :mod:`~incidents.models.closure`: the organization's closure settings
- :mod:`~incidents.models.attachments`: files attached to an incident
- :mod:`~incidents.models.saved_views`: responders' saved queue views
- :mod:`~incidents.models.idempotency`: the API's Idempotency-Keys

Everything is importable from ``incidents.models`` as before.
"""

from incidents.models.attachments import (
    STORED_NAME_MAX_BYTES,
    Attachment,
    attachment_upload_to,
    cut_to_bytes,
)
from incidents.models.catalog import (
    Category,
    PriorityRule,
    Service,
)
from incidents.models.closure import IncidentSettings
from incidents.models.common import (
    CLOCK_SKEW,
    EARLIEST_TIME,
    Level,
    Priority,
    Severity,
    person_field,
    plausible_time,
)
from incidents.models.idempotency import IdempotencyKey
from incidents.models.incident import Incident, IncidentQuerySet, IncidentSequence, TimelineEntry
from incidents.models.saved_views import SavedView
from incidents.models.sla import BusinessHours, SlaTarget

__all__ = [
    "CLOCK_SKEW",
    "EARLIEST_TIME",
    "STORED_NAME_MAX_BYTES",
    "Attachment",
    "BusinessHours",
    "Category",
    "IdempotencyKey",
    "Incident",
    "IncidentQuerySet",
    "IncidentSequence",
    "IncidentSettings",
    "Level",
    "Priority",
    "PriorityRule",
    "SavedView",
    "Service",
    "Severity",
    "SlaTarget",
    "TimelineEntry",
    "attachment_upload_to",
    "cut_to_bytes",
    "person_field",
    "plausible_time",
]
