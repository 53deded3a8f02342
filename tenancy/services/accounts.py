"""Organizations and user accounts.

Each function is keyword-only, names the organization and the actor, and runs in one
transaction. ``actor=None`` means the system (a management command).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.errors import Conflict, DomainError
from tenancy.models import (
    Organization,
)

User = get_user_model()


def _may(actor, perm: str, organization: Organization) -> bool:
    return actor is None or actor.has_perm(perm, organization)


def organization_create(*, slug: str, name: str, timezone_name: str = "UTC") -> Organization:
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(f"An organization with slug {slug!r} exists already.", field="slug")
    try:
        organization = Organization(slug=slug, name=name, timezone=timezone_name)
        organization.full_clean()
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"timezone": exc.messages}
        field, messages = next(iter(errors.items()))
        raise DomainError(messages[0], field=field) from exc
    organization.save()
    return organization


def username_validate(username: str) -> str:
    """Django's rules for usernames (letters, digits and @ . + - _), as a field error."""
    field = User._meta.get_field(User.USERNAME_FIELD)
    if not username:
        raise DomainError("Choose a username.", field="username")
    try:
        field.run_validators(username)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="username") from exc
    return username


def _email_validate(email: str) -> str:
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="email") from exc
    return User.objects.normalize_email(email)


def user_create(*, username: str, email: str = "", password: str | None = None, **extra):
    """An account, for the shell, a superuser or a person accepting an invitation: only
    they set its password. Without one it cannot log in until the password is reset."""
    username = username_validate(username)
    if email:
        email = _email_validate(email)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"A user named {username!r} exists already.", field="username")
    user = User(username=username, email=email, **extra)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages), field="password") from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user
