"""What one kind of integration tells the rest of alerts about itself."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from django.urls import URLPattern, reverse


@dataclass(frozen=True)
class Example:
    title: str
    text: str


@dataclass(frozen=True)
class Setup:
    """What an admin configures in the sending tool, shown on the service's page."""

    urls: list[tuple[str, str]]  # (label, absolute URL)
    examples: list[Example]


@dataclass(frozen=True)
class IntegrationKind:
    """One kind of integration: where its events arrive and how to set its tool up.

    Its module parses the tool's requests and words the answers the tool expects; the
    routes here are the module's views."""

    kind: str  # an Integration.Kind value
    route: str  # the name of the URL its events are sent to
    key_in_url: bool  # else the key travels in the request, as ``key_travels`` says
    key_travels: str  # for the admin: how the key goes with an event
    urlpatterns: list[URLPattern]
    # The JSON bodies its examples send, by route name (the tests post them for real).
    example_bodies: Callable[[object], dict[str, dict]]
    setup: Callable[[object, object], Setup]  # (request, integration)
    command_hint: str = ""  # a line create_integration prints after the URL
    credential: Callable[[str], str] | None = None  # the key as the tool sends it


def absolute_url(request, name: str, **kwargs) -> str:
    return request.build_absolute_uri(reverse(name, kwargs=kwargs or None))


def curl(url: str, body: dict, *headers: str) -> str:
    """A curl command that posts ``body`` as JSON."""
    lines = [f"curl -sS -X POST {shlex.quote(url)}", "  -H 'Content-Type: application/json'"]
    lines += [f"  -H {shlex.quote(header)}" for header in headers]
    lines.append(f"  -d {shlex.quote(json.dumps(body, indent=2))}")
    return " \\\n".join(lines)
