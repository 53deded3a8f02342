"""Outgoing e-mail from template triplets, and the absolute links they carry.

A message is three templates under ``templates/``: ``<name>.subject.txt`` (one line),
``<name>.txt`` (the plain body) and ``<name>.html`` (the same as HTML). Links point at
``BEACON_URL``, the address people reach Beacon at, never at the Host header of whichever
request caused the message. A message is rendered where it is caused and sent by a worker
(``core.tasks.send_email``), so no request waits for a mail server or shows, by how long
it takes, whether it sent one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string

from core.tasks import send_email

DEFAULT_URL = "http://localhost:8000"


def absolute_url(path: str) -> str:
    base = (getattr(settings, "BEACON_URL", "") or DEFAULT_URL).rstrip("/")
    return f"{base}{path}"


def render(name: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) of the template triplet ``name``."""
    subject = " ".join(render_to_string(f"{name}.subject.txt", context).split())
    text = render_to_string(f"{name}.txt", context)
    return subject, text, render_to_string(f"{name}.html", context)


def send(*, subject: str, text: str, html: str, to: list[str]) -> None:
    """Hands a rendered message to a worker now."""
    send_email.delay(subject=subject, text=text, html=html, to=list(to))


def send_after_commit(name: str, context: dict, *, to: list[str]) -> None:
    """Renders the template triplet ``name`` now; a worker sends it once the current
    transaction commits (never, if it rolls back)."""
    subject, text, html = render(name, context)
    transaction.on_commit(lambda: send(subject=subject, text=text, html=html, to=to), robust=True)
