"""Short single-line text (titles, names) without bidirectional control characters.

Explicit direction controls (embeddings and overrides U+202A to U+202E, isolates U+2066 to
U+2069, the marks U+200E, U+200F and U+061C) reorder the text around them: a title with a
right-to-left override shows reversed in the queue, e-mails and the admin, and a file name
``invoice<U+202E>gnp.exe`` reads as ``invoiceexe.png``. Beacon strips them where such text
enters, in one place per layer:

- :class:`LineField`, the model field: removes them whenever a row is saved (``save``,
  ``bulk_create``, ``update``), whatever the entry path (portal, API, admin, alerts, shell);
- :class:`LineFormField`, its form field (the admin, portal forms): removes them before the
  required check, so a title of nothing but controls is "required";
- :class:`LineSerializerField`, the API's (every ``ModelSerializer`` maps a ``LineField``
  to it, see ``core.apps``): the same for the API.
"""

from __future__ import annotations

import re

from django import forms
from django.db import models
from rest_framework import serializers
from rest_framework.fields import empty

BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def strip_bidi_controls(value):
    """The text without bidirectional control characters; anything else unchanged."""
    return BIDI_CONTROLS.sub("", value) if isinstance(value, str) else value


class LineFormField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        if isinstance(value, str):
            value = strip_bidi_controls(value)
            if self.strip:
                value = value.strip()
            if value in self.empty_values:
                return self.empty_value
        return value


class LineSerializerField(serializers.CharField):
    def run_validation(self, data=empty):
        return super().run_validation(strip_bidi_controls(data))


class LineField(models.CharField):
    """A ``CharField`` whose value never holds bidirectional control characters."""

    def to_python(self, value):
        return strip_bidi_controls(super().to_python(value))

    def get_prep_value(self, value):
        return strip_bidi_controls(super().get_prep_value(value))

    def pre_save(self, model_instance, add):
        value = strip_bidi_controls(getattr(model_instance, self.attname))
        setattr(model_instance, self.attname, value)
        return value

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": LineFormField, **kwargs})

    def deconstruct(self):
        # The column is a plain varchar: migrations need not know the difference.
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.CharField", args, kwargs
