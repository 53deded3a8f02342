"""Invitation links: a random secret, signed with the site's key.

The signature refuses a forged or mangled link before any query; the database keeps only
the SHA-256 digest of the secret, so neither a copy of the database nor the person who
sent the invitation can rebuild a working link.
"""

from __future__ import annotations

import hashlib
import secrets

from django.core import signing

SALT = "tenancy.invitation"
SECRET_BYTES = 32


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new() -> tuple[str, str]:
    """A fresh (token for the link, digest to store)."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return _signer().sign(secret), digest(secret)


def digest_of(token: str) -> str | None:
    """The stored digest that a link's token names, or None when the token is not ours."""
    try:
        secret = _signer().unsign(token)
    except signing.BadSignature:
        return None
    return digest(secret)
