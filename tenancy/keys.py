"""API key format: ``bcn_`` + 32 random base62 characters + a 6-character CRC32 checksum.

The prefix lets secret scanners recognise a leaked key; the checksum rejects typos and
random strings without touching the database. Only the SHA-256 digest is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import zlib

PREFIX = "bcn_"
ALPHABET = string.digits + string.ascii_letters
BODY_LENGTH = 32
CHECKSUM_LENGTH = 6
SHOWN_LENGTH = len(PREFIX) + 8


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def generate() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return f"{PREFIX}{body}{_checksum(body)}"


def is_well_formed(raw: str) -> bool:
    if not raw.startswith(PREFIX) or len(raw) != len(PREFIX) + BODY_LENGTH + CHECKSUM_LENGTH:
        return False
    body, checksum = raw[len(PREFIX) : -CHECKSUM_LENGTH], raw[-CHECKSUM_LENGTH:]
    if any(char not in ALPHABET for char in body):
        return False
    return secrets.compare_digest(_checksum(body), checksum)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def shown_prefix(raw: str) -> str:
    return raw[:SHOWN_LENGTH]
