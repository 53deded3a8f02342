"""Panels: what apps show on pages they do not own.

A page names a slot (``"home"``, ``"incident"``); apps register a template and a context
function for it in their ``AppConfig.ready``. The function takes the request (and the
page's object) and returns the template's context, or None when this reader has nothing
to see there. The page includes each panel's template with its context as ``panel``, in
the order given at registration (ties: the order of registration). So a page of a lower
app shows what higher apps contribute without importing them or loading their tags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ContextFunction = Callable[..., dict | None]

# The slots pages offer.
HOME = "home"  # the organization's home page: a card per app (request)
INCIDENT = "incident"  # the incident page, below its details (request, incident)


@dataclass(frozen=True)
class Panel:
    template_name: str
    context: dict


_slots: dict[str, dict[str, tuple[int, ContextFunction]]] = {}


def register(slot: str, template_name: str, context: ContextFunction, *, order: int = 50):
    """Adds a panel to the slot; registering the same template again replaces it."""
    _slots.setdefault(slot, {})[template_name] = (order, context)


def unregister(slot: str, template_name: str) -> None:
    _slots.get(slot, {}).pop(template_name, None)


def collect(slot: str, request, *args) -> list[Panel]:
    """The slot's panels this request shows."""
    registered = sorted(
        _slots.get(slot, {}).items(), key=lambda item: item[1][0]
    )  # sorted() is stable: equal orders keep their registration order
    panels = []
    for template_name, (_, context_function) in registered:
        context = context_function(request, *args)
        if context is not None:
            panels.append(Panel(template_name, context))
    return panels
