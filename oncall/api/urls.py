"""On-call in /api/v1/orgs/<org>/: schedules, escalation policies, escalations and pages."""

from django.urls import include, path

urlpatterns = [
    path("", include("oncall.api.schedules")),
    path("", include("oncall.api.policies")),
    path("", include("oncall.api.escalations")),
]
