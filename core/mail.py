"""Outgoing e-mail from template triplets, and the absolute links they carry.

A message is three templates under ``templates/``: ``<name>.subject.txt`` (one line),
``<name>.txt`` (the plain body) and ``<name>.html`` (the same as HTML). Links point at
``BEACON_URL``, the address people reach Beacon at, never at the Host header of whichever
request caused the message.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

DEFAULT_URL = "http://localhost:8000"


def absolute_url(path: str) -> str:
    base = (getattr(settings, "BEACON_URL", "") or DEFAULT_URL).rstrip("/")
    return f"{base}{path}"


def render(name: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) of the template triplet ``name``."""
    subject = " ".join(render_to_string(f"{name}.subject.txt", context).split())
    text = render_to_string(f"{name}.txt", context)
    return subject, text, render_to_string(f"{name}.html", context)


def build(name: str, context: dict, *, to: list[str]) -> EmailMultiAlternatives:
    """The message, rendered now; the caller sends it (after its transaction commits)."""
    subject, text, html = render(name, context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, to)
    message.attach_alternative(html, "text/html")
    return message
