"""What every portal form shares."""

from __future__ import annotations

from django import forms


def person_label(user) -> str:
    """How a person is named in a choice: "Full Name (username)", or the username."""
    full_name = user.get_full_name()
    return f"{full_name} ({user.get_username()})" if full_name else user.get_username()


class PortalForm(forms.Form):
    """Labels without a trailing colon, like the rest of the portal."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
