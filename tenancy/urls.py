from django.urls import path

from tenancy import views

urlpatterns = [
    path("account/two-factor/", views.account_two_factor, name="two-factor"),
    path("o/<slug:org>/teams/", views.team_list, name="team-list"),
    path("o/<slug:org>/teams/<slug:team>/", views.team_detail, name="team-detail"),
    path("o/<slug:org>/members/", views.member_list, name="member-list"),
    path("o/<slug:org>/members/invite/", views.invitation_create, name="invitation-create"),
    path(
        "o/<slug:org>/invitations/<int:invitation>/resend/",
        views.invitation_resend,
        name="invitation-resend",
    ),
    path(
        "o/<slug:org>/invitations/<int:invitation>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation"),
    path("o/<slug:org>/audit/", views.audit_log, name="audit-log"),
]
