"""Reading the invitation link out of an e-mail, as the invitee does."""

import re
from urllib.parse import urlsplit

LINK = re.compile(r"https?://[^\s\"<>]+/invitations/[^\s\"<>/]+/")


def invitation_link(message) -> str:
    """The link in the plain-text body of an invitation e-mail (the HTML one is the same)."""
    (link,) = set(LINK.findall(message.body))
    html = message.alternatives[0][0] if message.alternatives else ""
    assert link in html
    return link


def invitation_path(message) -> str:
    return urlsplit(invitation_link(message)).path
