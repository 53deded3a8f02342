"""Settings that a higher app keeps with a lower app's record, shown and changed with it.

A lower app's record (a service, a team) cannot know the apps above it, yet their
settings belong on its pages: alerts' severity map on a service, for example. The higher
app registers a :class:`Setting` for the model in its ``AppConfig.ready``; the lower app's
API and admin offer it beside the record's own fields, and the lower app's services hand
its value to the setting's ``write`` in the same transaction as the rest of the change.
The lower app knows nothing of what it means."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """A value another app keeps with the record. Without ``write`` and ``form_field`` it is
    read-only: shown in the API, changed by its app's own means (an incident's escalation)."""

    name: str  # of the field, in the API and the admin form
    read: Callable[[Any], Any]  # (record) -> the value
    api_field: Callable[[], Any]  # a serializer field whose ``get_attribute`` reads the value
    related: str | None = None  # ``select_related`` from the record, so ``read`` needs no query
    prefetch: Any = None  # or what ``prefetch_related`` takes, for rows that point at it
    write: Callable[..., None] | None = None  # (*, organization, actor, target, value)
    form_field: Callable[[], Any] | None = None  # a form field for the admin


_SETTINGS: dict[str, dict[str, Setting]] = {}


def register(model, setting: Setting) -> None:
    _SETTINGS.setdefault(model._meta.label, {})[setting.name] = setting


def settings_of(model) -> list[Setting]:
    return list(_SETTINGS.get(model._meta.label, {}).values())


def related(model) -> list[str]:
    return [setting.related for setting in settings_of(model) if setting.related]


def prefetches(model) -> list:
    return [setting.prefetch for setting in settings_of(model) if setting.prefetch is not None]


def api_fields(model) -> dict[str, Any]:
    return {setting.name: setting.api_field() for setting in settings_of(model)}


def form_fields(model, record=None) -> dict[str, Any]:
    """Form fields for the admin, starting from ``record``'s values when it exists."""
    fields = {}
    for setting in settings_of(model):
        if setting.form_field is None:
            continue
        fields[setting.name] = setting.form_field()
        if record is not None and record.pk is not None:
            fields[setting.name].initial = setting.read(record)
    return fields


def split(model, fields: dict) -> dict[str, Any]:
    """Takes the model's registered (writable) settings' values out of ``fields``."""
    names = {s.name for s in settings_of(model) if s.write is not None}
    return {name: fields.pop(name) for name in list(fields) if name in names}


def write(model, values: dict[str, Any], *, organization, actor, target) -> None:
    settings = _SETTINGS.get(model._meta.label, {})
    for name, value in values.items():
        settings[name].write(organization=organization, actor=actor, target=target, value=value)
