"""Posting admin change forms as a browser would: every field with the value shown."""

from __future__ import annotations


def _put(data: dict, bound) -> None:
    value = bound.value()
    widget = bound.field.widget
    if hasattr(widget, "widgets"):  # split date and time
        for index, part in enumerate(widget.decompress(value)):
            data[f"{bound.html_name}_{index}"] = "" if part is None else part
    elif isinstance(value, bool):
        if value:
            data[bound.html_name] = "on"
    else:
        data[bound.html_name] = "" if value is None else value
    if bound.field.show_hidden_initial:  # a callable default: the page carries its initial
        initial = bound.field.prepare_value(bound.initial)
        data[bound.html_initial_name] = "" if initial is None else initial


def shown(response, **changes) -> dict:
    """The POST data of the change form in ``response``, its inlines included, with
    ``changes`` (field names, or inline ``<prefix>-<n>-<field>`` names) applied."""
    data = {}
    for bound in response.context["adminform"].form:
        _put(data, bound)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for bound in formset.management_form:
            _put(data, bound)
        for form in formset.forms:
            for bound in form:
                _put(data, bound)
    data.update(changes)
    return data


def errors(response) -> dict:
    """The main form's errors of a re-shown admin page."""
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors
