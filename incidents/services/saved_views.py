"""Saved queue views: a responder's own named queue filters, kept per organization.

A view stores the queue's query string, normalized through the queue's filter form: only
the form's own parameters, only values that validate, in the form's field order. So a
saved view means exactly what the queue shows for it, and nothing else rides along.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.db import transaction
from django.http import QueryDict

from core.errors import DomainError
from incidents.filters import QueueFilter
from incidents.models import SavedView
from incidents.selectors import saved_views_of

NAME_MAX = SavedView._meta.get_field("name").max_length
QUERY_MAX = SavedView._meta.get_field("query").max_length
# Bounds the list each queue page renders for its user.
MAX_PER_USER = 50


def normalize_query(query: str, *, user) -> str:
    """The queue filters in ``query`` as a canonical query string; DomainError if any
    filter does not validate. Parameters the filter form does not know are dropped."""
    if len(query) > QUERY_MAX:
        raise DomainError("These filters are too long to save.", field="query")
    filters = QueueFilter(QueryDict(query.lstrip("?")), user=user)
    if not filters.is_valid():
        raise DomainError("Some filters were not understood; fix them first.", field="query")
    normalized = urlencode(filters.query_items())
    if len(normalized) > QUERY_MAX:
        raise DomainError("These filters are too long to save.", field="query")
    return normalized


@transaction.atomic
def saved_view_save(*, organization, owner, name: str, query: str) -> SavedView:
    """Creates the owner's view ``name``, or replaces the filters of the one so named."""
    name = name.strip()
    if not name:
        raise DomainError("Give the view a name.", field="name")
    if len(name) > NAME_MAX:
        raise DomainError(f"Names have at most {NAME_MAX} characters.", field="name")
    if "\x00" in name:  # PostgreSQL text cannot hold it
        raise DomainError("Names cannot contain NUL bytes.", field="name")
    query = normalize_query(query, user=owner)
    views = saved_views_of(organization=organization, user=owner)
    if not views.filter(name=name).exists() and views.count() >= MAX_PER_USER:
        raise DomainError(f"You have {MAX_PER_USER} saved views; delete one first.", field="name")
    view, _ = views.update_or_create(
        organization=organization, owner=owner, name=name, defaults={"query": query}
    )
    return view


def saved_view_delete(*, organization, owner, view: SavedView) -> None:
    if view.organization_id != organization.pk or view.owner_id != owner.pk:
        raise DomainError("Not your view.")  # callers look views up through saved_views_of
    view.delete()
