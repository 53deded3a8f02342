"""Query-string filters every API module uses (django-filter)."""

from __future__ import annotations

from datetime import UTC

from django.core.exceptions import ValidationError
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 datetime, in UTC, that the database can compare.

    Python accepts offsets up to a day and times up to year 9999 in any of them; PostgreSQL
    refuses an offset beyond 15:59 ("time zone displacement out of range"), and year 9999
    east of UTC overflows once converted. Either answered 500.
    """

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError as exc:
                raise ValidationError("Datetime value out of range.", code="overflow") from exc
        return value


class BoundedIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField
