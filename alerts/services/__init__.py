"""Alerts' writes: ingestion (storing what integrations send), applying stored alerts to
incidents, and the integrations admins configure."""

from alerts.services.applying import (
    IntegrationActor,
    apply_pending,
    apply_stored,
)
from alerts.services.ingestion import (
    KEY_SHAPE,
    Result,
    accepts_events,
    first_copies,
    incident_numbers,
    ingest,
    integration_for_key,
    record_change,
    results,
    store,
)
from alerts.services.integrations import (
    INTEGRATION_FIELDS,
    integration_create,
    integration_delete,
    integration_regenerate_key,
    integration_update,
)
from alerts.services.severity_maps import severity_map_set

__all__ = [
    "INTEGRATION_FIELDS",
    "KEY_SHAPE",
    "IntegrationActor",
    "Result",
    "accepts_events",
    "apply_pending",
    "apply_stored",
    "first_copies",
    "incident_numbers",
    "ingest",
    "integration_create",
    "integration_delete",
    "integration_for_key",
    "integration_regenerate_key",
    "integration_update",
    "record_change",
    "results",
    "severity_map_set",
    "store",
]
