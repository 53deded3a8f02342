"""Portal pages for incidents, under /o/<org>/incidents/."""

from django.urls import path

from incidents import attachment_views, views

app_name = "incidents"

urlpatterns = [
    path("o/<slug:org>/incidents/", views.queue, name="queue"),
    path("o/<slug:org>/incidents/views/", views.saved_view_save, name="saved-view-save"),
    path(
        "o/<slug:org>/incidents/views/<int:view>/delete/",
        views.saved_view_delete,
        name="saved-view-delete",
    ),
    path("o/<slug:org>/incidents/new/", views.report, name="new"),
    path("o/<slug:org>/incidents/mine/", views.mine, name="mine"),
    path("o/<slug:org>/incidents/changes/", views.queue_changes, name="changes"),
    path("o/<slug:org>/incidents/<int:number>/", views.detail, name="detail"),
    path(
        "o/<slug:org>/incidents/<int:number>/confirm/<str:token>/",
        views.closure_confirm,
        name="confirm",
    ),
    path(
        "o/<slug:org>/incidents/<int:number>/timeline/",
        views.timeline_fragment,
        name="timeline",
    ),
    path(
        "o/<slug:org>/incidents/<int:number>/changes/",
        views.incident_changes,
        name="incident-changes",
    ),
    *attachment_views.urlpatterns,  # Attachments
]
