"""Rows of the outbox written straight to the models, for tests of what shows them (the
tests of sending make theirs through the services)."""

from __future__ import annotations

import itertools

from notifications.models import Delivery

_numbers = itertools.count(1)


def delivery(webhook, *, incident=None, **fields) -> Delivery:
    """An unsaved webhook delivery of ``webhook``'s organization (``bulk_create`` them, or
    :func:`delivery_save` one)."""
    number = next(_numbers)
    defaults = {
        "key": f"test:{number}",
        "channel": Delivery.Channel.WEBHOOK,
        "recipient": webhook.name,
        "event_type": "incident.created",
        "message_id": f"msg_test{number}",
        "payload": {},
    }
    return Delivery(
        organization_id=webhook.organization_id,
        webhook=webhook,
        incident=incident,
        **{**defaults, **fields},
    )


def delivery_save(webhook, **fields) -> Delivery:
    row = delivery(webhook, **fields)
    row.save()
    return row
