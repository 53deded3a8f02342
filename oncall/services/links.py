"""The signed one-click acknowledgement link of a page's e-mail.

The token names the page and its recipient and is signed with the site's secret; it
works without logging in (the e-mail went to the recipient) for ``LINK_MAX_AGE`` and
only while the page is open, so an acknowledged or resolved incident's link does
nothing. Opening it shows a confirmation; only its POST acknowledges, so a mail scanner
that follows links acknowledges nothing."""

from __future__ import annotations

from django.core import signing
from django.urls import reverse

from oncall.models import Page

LINK_SALT = "oncall.page-acknowledge"
LINK_MAX_AGE = 7 * 24 * 3600


def page_token(page: Page) -> str:
    return signing.TimestampSigner(salt=LINK_SALT).sign_object(
        {"p": page.pk, "u": page.recipient_id}, compress=False
    )


def page_link(page: Page) -> str:
    """The path of the page's acknowledgement link."""
    return reverse(
        "paging:acknowledge",
        kwargs={
            "org": page.incident.organization.slug,
            "page": page.pk,
            "token": page_token(page),
        },
    )


def page_token_valid(page: Page, token: str) -> bool:
    """True for a token made for this page and recipient, while the page is open."""
    try:
        payload = signing.TimestampSigner(salt=LINK_SALT).unsign_object(token, max_age=LINK_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return False
    return (
        isinstance(payload, dict)
        and payload.get("p") == page.pk
        and payload.get("u") == page.recipient_id
        and page.status == Page.Status.OPEN
    )
