"""Writes to the incident record, one module per part. Each names the organization and
the actor and runs in one transaction that locks what it changes, changes it, appends
the timeline entries and publishes the events.

- :mod:`~incidents.services.base`: the tenant checks, the row lock, the timeline entry
  (shared with the apps above ``incidents``)
- :mod:`~incidents.services.incident`: opening incidents, their numbers and tags
- :mod:`~incidents.services.lifecycle`: moves, field changes, priority, comments, updates
- :mod:`~incidents.services.catalog`: services, categories, the priority matrix
- :mod:`~incidents.services.closure`: the reporter's confirm or reopen, signed links,
  auto-close
- :mod:`~incidents.services.attachments`: storing and removing files
- :mod:`~incidents.services.saved_views`: responders' saved queue views
- :mod:`~incidents.services.organization`: what a new organization starts with

The public names of every part are importable from ``incidents.services``.
"""

from incidents.services.attachments import (
    attachment_add,
    attachment_quota_check,
    attachment_remove,
    attachments_add_all,
)
from incidents.services.base import (
    check_member,
    check_same_organization,
    check_times,
    lock_incident,
    timeline_entry_add,
    timeline_entry_build,
)
from incidents.services.catalog import (
    DEFAULT_CATEGORIES,
    SERVICE_FIELDS,
    catalog_defaults_create,
    priority_for,
    priority_matrix,
    service_create,
    service_delete,
    service_update,
)
from incidents.services.closure import (
    AUTO_CLOSE_BATCH,
    AUTO_CLOSE_DEFAULT_DAYS,
    CLOSURE_LINK_MAX_AGE,
    CLOSURE_SALT,
    auto_close_resolved,
    closure_link,
    closure_token,
    closure_token_valid,
    incident_confirm_closure,
    incident_reopen,
)
from incidents.services.incident import (
    TAGS_MAX,
    incident_create,
    incidents_add_tags,
    incidents_open_many,
    lock_numbering,
    tags_union,
)
from incidents.services.lifecycle import (
    PEOPLE,
    PEOPLE_LABELS,
    UPDATABLE,
    InvalidTransition,
    incident_change,
    incident_comment,
    incident_override_priority,
    incident_post_update,
    incident_transition,
    incident_update,
    transition_locked,
)
from incidents.services.organization import organization_defaults_create
from incidents.services.saved_views import (
    normalize_query,
    saved_view_delete,
    saved_view_save,
)

__all__ = [
    "AUTO_CLOSE_BATCH",
    "AUTO_CLOSE_DEFAULT_DAYS",
    "CLOSURE_LINK_MAX_AGE",
    "CLOSURE_SALT",
    "DEFAULT_CATEGORIES",
    "PEOPLE",
    "PEOPLE_LABELS",
    "SERVICE_FIELDS",
    "TAGS_MAX",
    "UPDATABLE",
    "InvalidTransition",
    "attachment_add",
    "attachment_quota_check",
    "attachment_remove",
    "attachments_add_all",
    "auto_close_resolved",
    "catalog_defaults_create",
    "check_member",
    "check_same_organization",
    "check_times",
    "closure_link",
    "closure_token",
    "closure_token_valid",
    "incident_change",
    "incident_comment",
    "incident_confirm_closure",
    "incident_create",
    "incident_override_priority",
    "incident_post_update",
    "incident_reopen",
    "incident_transition",
    "incident_update",
    "incidents_add_tags",
    "incidents_open_many",
    "lock_incident",
    "lock_numbering",
    "normalize_query",
    "organization_defaults_create",
    "priority_for",
    "priority_matrix",
    "saved_view_delete",
    "saved_view_save",
    "service_create",
    "service_delete",
    "service_update",
    "tags_union",
    "timeline_entry_add",
    "timeline_entry_build",
    "transition_locked",
]
