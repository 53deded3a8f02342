"""The on-call report in the portal: per person and per team over a range (the last four
weeks by default, at most :data:`oncall.reports.MAX_DAYS`), hours on call, at night and on
weekends, pages, pages outside working hours and the median time to acknowledge, so a team
sees whether its rotation is fair."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from oncall import reports
from oncall.bounds import validate_in_range
from tenancy.access import org_member_required
from tenancy.models import Team

DEFAULT_DAYS = 28


class ReportForm(forms.Form):
    start = forms.DateField(
        label="From",
        required=False,
        validators=[validate_in_range],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end = forms.DateField(
        label="To (not included)",
        required=False,
        validators=[validate_in_range],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="Everyone"
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.for_org(organization)
        self.fields["team"].to_field_name = "slug"

    def clean(self):
        cleaned = super().clean()
        today = timezone.localdate()
        end = cleaned.get("end") or today + timedelta(days=1)
        start = cleaned.get("start") or end - timedelta(days=DEFAULT_DAYS)
        if end <= start:
            self.add_error("end", "The end must be after the start.")
        elif (end - start).days > reports.MAX_DAYS:
            self.add_error("end", f"A report covers at most {reports.MAX_DAYS} days.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned


def _moment(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@org_member_required
@require_GET
def oncall_report(request):
    organization = request.organization
    if not request.user.has_perm("oncall.view_schedule", organization):
        raise PermissionDenied
    form = ReportForm(request.GET or None, organization=organization)
    report = None
    if not form.is_bound:
        form = ReportForm({}, organization=organization)
    if form.is_valid():
        report = reports.oncall_report(
            organization=organization,
            start=_moment(form.cleaned_data["start"]),
            end=_moment(form.cleaned_data["end"]),
            team=form.cleaned_data["team"],
        )
    return render(request, "oncall/report.html", {"form": form, "report": report})
