"""/api/v1/: every resource lives under orgs/<org>/."""

from django.urls import include, path

urlpatterns = [
    path("orgs/<slug:org>/", include("tenancy.api.urls")),
    path("orgs/<slug:org>/", include("incidents.api.urls")),
    path("orgs/<slug:org>/", include("alerts.api")),  # Integrations, alerts, change events
    path("orgs/<slug:org>/", include("reviews.api.urls")),  # Post-incident reviews
    path("orgs/<slug:org>/", include("oncall.api.urls")),  # Schedules, policies, pages
    path("orgs/<slug:org>/", include("notifications.api")),  # Webhooks, deliveries
]
