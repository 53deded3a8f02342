"""Portal pages for incidents, under /o/<org>/incidents/."""

from django.urls import path

from incidents.views import attachments, closure, incident, queue, saved_views

app_name = "incidents"

urlpatterns = [
    path("o/<slug:org>/incidents/", queue.queue, name="queue"),
    path("o/<slug:org>/incidents/views/", saved_views.saved_view_save, name="saved-view-save"),
    path(
        "o/<slug:org>/incidents/views/<int:view>/delete/",
        saved_views.saved_view_delete,
        name="saved-view-delete",
    ),
    path("o/<slug:org>/incidents/new/", incident.report, name="new"),
    path("o/<slug:org>/incidents/mine/", queue.mine, name="mine"),
    path("o/<slug:org>/incidents/changes/", queue.queue_changes, name="changes"),
    path("o/<slug:org>/incidents/<int:number>/", incident.detail, name="detail"),
    path(
        "o/<slug:org>/incidents/<int:number>/confirm/<str:token>/",
        closure.closure_confirm,
        name="confirm",
    ),
    path(
        "o/<slug:org>/incidents/<int:number>/timeline/",
        incident.timeline_fragment,
        name="timeline",
    ),
    path(
        "o/<slug:org>/incidents/<int:number>/changes/",
        incident.incident_changes,
        name="incident-changes",
    ),
    path(
        "o/<slug:org>/incidents/<int:number>/attachments/", attachments.upload, name="attachments"
    ),
    path(
        "o/<slug:org>/incidents/<int:number>/attachments/<int:attachment_id>/",
        attachments.attachment,
        name="attachment",
    ),
]
