"""Fields of the API's serializers that name other objects of the organization.

Every field that names another object (a slug, a username) resolves only inside the
request's organization: serializers narrow their querysets from ``context["organization"]``,
so another organization's object is "not found" exactly like one that does not exist.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from rest_framework import serializers

from incidents.models import (
    Category,
    Service,
)
from tenancy.models import Team

User = get_user_model()

TEXT_MAX_LENGTH = 50_000
BODY_MAX_LENGTH = 20_000
LABEL_MAX_LENGTH = 64
LABELS_MAX = 50
SLUG_RE = re.compile(r"[-\w]+", re.ASCII)
USERNAME_RE = re.compile(r"[\w.@+-]+")


class OrganizationSlugField(serializers.SlugRelatedField):
    """A slug or username that resolves only among the organization's own objects.

    The queryset is narrowed by the serializer; anything outside it is "not found". Values
    that cannot be an identifier at all (too long, odd characters, NUL bytes) are "not found"
    without asking the database; values that are not strings are "invalid".
    """

    default_error_messages = {
        "does_not_exist": "Not found.",
        "invalid": "Expected a string.",
    }

    def __init__(self, *, max_length: int = 50, pattern: re.Pattern = SLUG_RE, **kwargs):
        self.max_length = max_length
        self.pattern = pattern
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if len(data) > self.max_length or not self.pattern.fullmatch(data):
            self.fail("does_not_exist")
        return super().to_internal_value(data)


def slug_field(model, **kwargs) -> OrganizationSlugField:
    """An optional slug of one of the organization's ``model`` rows."""
    return OrganizationSlugField(
        slug_field="slug",
        queryset=model.objects.none(),
        required=False,
        allow_null=True,
        **kwargs,
    )


def user_field(**kwargs) -> OrganizationSlugField:
    """An optional username of one of the organization's members."""
    return OrganizationSlugField(
        slug_field="username",
        queryset=User.objects.none(),
        max_length=150,
        pattern=USERNAME_RE,
        required=False,
        allow_null=True,
        **kwargs,
    )


class JSONField(serializers.JSONField):
    """DRF's JSONField, refusing ``null`` from a form as it does from a JSON body.

    A form (multipart or urlencoded) sends the text ``null``, which DRF parses only after
    its check for a missing value; without this the null reached the database.
    """

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value is None and not self.allow_null:
            self.fail("null")
        return value


def labels_field(help_text: str) -> serializers.ListField:
    """A bounded list of short labels (error codes, tags)."""
    return serializers.ListField(
        child=serializers.CharField(max_length=LABEL_MAX_LENGTH),
        max_length=LABELS_MAX,
        required=False,
        help_text=f"{help_text} At most {LABELS_MAX}, each up to {LABEL_MAX_LENGTH} characters.",
    )


def text_field(**kwargs) -> serializers.CharField:
    """An optional long text (Markdown where the help text says so)."""
    return serializers.CharField(
        max_length=TEXT_MAX_LENGTH, allow_blank=True, required=False, **kwargs
    )


def narrow_to_organization(serializer: serializers.Serializer) -> None:
    """Points every slug/username field of the serializer at the organization's objects."""
    organization = serializer.context.get("organization")
    if organization is None:
        return  # schema generation
    querysets = {
        Category: Category.objects.for_org(organization).filter(is_active=True),
        Service: Service.objects.for_org(organization),
        Team: Team.objects.for_org(organization),
        User: User.objects.filter(memberships__organization=organization),
    }
    for field in serializer.fields.values():
        if isinstance(field, OrganizationSlugField):
            field.queryset = querysets[field.queryset.model]
