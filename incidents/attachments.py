"""What an incident attachment may be: its size and type, checked against its first bytes.

The client's content type and the file name are hints only. The stored type follows from
the extension (or, without a known extension, the client's type) and must agree with what
the first bytes are: magic numbers for images, PDF and ZIP; valid UTF-8 without NUL bytes
in the first 8 KB for the text types.

The limits are constants here; a deployment may override them through Django settings
(``ATTACHMENT_MAX_BYTES``, ``ATTACHMENT_ALLOWED_TYPES``, and per incident
``ATTACHMENT_MAX_FILES_PER_INCIDENT`` and ``ATTACHMENT_MAX_TOTAL_BYTES_PER_INCIDENT``), e.g.
from the environment.
"""

from __future__ import annotations

import codecs
import posixpath

from django.conf import settings

from core.errors import DomainError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_FILES_PER_INCIDENT = 50
DEFAULT_MAX_TOTAL_BYTES_PER_INCIDENT = 100 * 1024 * 1024
TEXT_SNIFF_BYTES = 8 * 1024

TEXT_TYPES = frozenset({"text/plain", "text/csv", "application/json"})
DEFAULT_ALLOWED_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "application/zip",
        *TEXT_TYPES,
    }
)
EXTENSIONS = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".json": "application/json",
}


def max_bytes() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_files_per_incident() -> int:
    return int(
        getattr(settings, "ATTACHMENT_MAX_FILES_PER_INCIDENT", DEFAULT_MAX_FILES_PER_INCIDENT)
    )


def max_total_bytes_per_incident() -> int:
    return int(
        getattr(
            settings,
            "ATTACHMENT_MAX_TOTAL_BYTES_PER_INCIDENT",
            DEFAULT_MAX_TOTAL_BYTES_PER_INCIDENT,
        )
    )


def _amount(size: int) -> str:
    return f"{size // (1024 * 1024)} MB" if size >= 1024 * 1024 else f"{size} bytes"


def check_quota(*, count: int, total: int, sizes: list[int]) -> None:
    """DomainError on "file" when files of these ``sizes`` would take an incident that has
    ``count`` files of ``total`` bytes past its quota."""
    most = max_files_per_incident()
    if count + len(sizes) > most:
        raise DomainError(
            f"An incident keeps at most {most} files, and this one has {count}.",
            field="file",
            code="too_many_files",
        )
    budget = max_total_bytes_per_incident()
    if total + sum(sizes) > budget:
        raise DomainError(
            f"An incident keeps at most {_amount(budget)} of files, and this one has "
            f"{_amount(total)}.",
            field="file",
            code="quota_exceeded",
        )


def allowed_types() -> frozenset[str]:
    return frozenset(getattr(settings, "ATTACHMENT_ALLOWED_TYPES", DEFAULT_ALLOWED_TYPES))


def sniff(head: bytes) -> str | None:
    """The type the first bytes show: a binary type, "text", or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "application/zip"
    if b"\x00" in head:
        return None
    try:
        # final=False: a character cut at the 8 KB boundary is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    return "text"


def _read_head(upload) -> bytes:
    upload.seek(0)
    head = upload.read(TEXT_SNIFF_BYTES)
    upload.seek(0)
    return head


def check_upload(upload) -> tuple[str, str]:
    """(original name, content type) of an acceptable upload, or DomainError on "file"."""
    name = posixpath.basename((upload.name or "").replace("\\", "/")).strip()[:255] or "file"
    size = upload.size or 0
    limit = max_bytes()
    if size > limit:
        raise DomainError(
            f"The file is too large: at most {limit // (1024 * 1024) or limit} "
            f"{'MB' if limit >= 1024 * 1024 else 'bytes'}.",
            field="file",
            code="too_large",
        )
    if size == 0:
        raise DomainError("The file is empty.", field="file", code="empty")
    allowed = allowed_types()
    extension = posixpath.splitext(name)[1].lower()
    if extension:
        expected = EXTENSIONS.get(extension)
    else:
        client_type = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
        expected = client_type if client_type in allowed else None
    if expected is None or expected not in allowed:
        raise DomainError(
            "This type of file is not accepted: send images (PNG, JPEG, GIF, WebP), PDF, "
            "text, CSV, JSON, log files or ZIP archives.",
            field="file",
            code="unsupported_type",
        )
    found = sniff(_read_head(upload))
    if found != ("text" if expected in TEXT_TYPES else expected):
        raise DomainError(
            "The file's content does not match its type.", field="file", code="type_mismatch"
        )
    return name, expected
