"""Secrets Beacon keeps for talking to other systems (signing secrets, bot tokens, API
credentials), encrypted at rest with Fernet.

The keys are ``BEACON_ENCRYPTION_KEYS``, newest first: the first encrypts, every one
decrypts, so a new key can be put in front while values written with the old ones still
read, and ``manage.py rotate_secrets`` then moves them to it. A key derived from
``SECRET_KEY`` (HKDF-SHA256) always comes last: it is the only key of an installation that
configures none, and values it wrote still read once keys are configured.

:class:`EncryptedTextField` keeps one rule: the Python value is always the plaintext, the
column always holds a token. So saving twice never encrypts twice, and ``values()`` and
``values_list()`` answer plaintext too. A token differs at every write, so the column
cannot be filtered by value: only ``isnull`` is offered, any other lookup is an error.
Fixtures (``dumpdata``) hold the plaintext, as any Python value.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models

MASK = "••••"
MASK_ALL_BELOW = 12  # characters: a shorter secret is shown masked entirely
BATCH = 500


class SecretError(ValueError):
    """A token that none of the keys decrypts (a lost key, or not a token at all)."""


@functools.lru_cache(maxsize=4)
def derived_key(secret_key: str) -> str:
    """The Fernet key derived from ``secret_key``: the same for the same ``SECRET_KEY``."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"beacon secrets")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode())).decode()


def _keys() -> tuple[str, ...]:
    return (*settings.BEACON_ENCRYPTION_KEYS, derived_key(settings.SECRET_KEY))


@functools.lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    # Cached per keys, read from the settings at every call, so tests may change them.
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            raise ImproperlyConfigured(
                f"BEACON_ENCRYPTION_KEYS: key {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    return MultiFernet(fernets)


def encrypt(text: str) -> str:
    """A token of ``text`` under the newest key; a different one at every call."""
    return _fernet(_keys()).encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    return _with_any_key(MultiFernet.decrypt, token)


def rotate(token: str) -> str:
    """The same secret as a token of the newest key."""
    return _with_any_key(MultiFernet.rotate, token)


def _with_any_key(operation, token: str) -> str:
    try:
        return operation(_fernet(_keys()), token.encode()).decode()
    except InvalidToken:
        raise SecretError("No encryption key decrypts this value.") from None


def mask(secret: str, shown: int = 4) -> str:
    """The secret to show back: its last ``shown`` characters, or nothing of a short one."""
    if not secret:
        return ""
    if len(secret) < MASK_ALL_BELOW or not 0 < shown < len(secret):
        return MASK
    return MASK + secret[-shown:]


def check_keys(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A key that is not one fails at start-up rather than at the first secret."""
    try:
        _fernet(_keys())
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="core.E001")]
    return []


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; empty and null are stored as they are."""

    def from_db_value(self, value, expression, connection):
        return value if value in (None, "") else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value if value in (None, "") else encrypt(value)

    def get_lookup(self, lookup_name):
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, name):
        return None


def encrypted_fields() -> dict[type[models.Model], list[str]]:
    """Every concrete model with encrypted fields, and their names."""
    found = {}
    for model in apps.get_models():
        names = [
            field.attname
            for field in model._meta.local_concrete_fields
            if isinstance(field, EncryptedTextField)
        ]
        if names:
            found[model] = names
    return found


def reencrypt(model: type[models.Model], names: list[str]) -> int:
    """Writes every value of these fields again under the newest key, the rows locked in
    pk order; call it in a transaction that may see every row (row-level security).
    Answers how many values it re-encrypted."""
    rows = list(model._base_manager.order_by("pk").select_for_update().only(*names))
    rows = [row for row in rows if any(getattr(row, name) for name in names)]
    model._base_manager.bulk_update(rows, names, batch_size=BATCH)
    return sum(1 for row in rows for name in names if getattr(row, name))
