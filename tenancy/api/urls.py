from django.urls import path
from rest_framework.routers import SimpleRouter

from tenancy.api import views

router = SimpleRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register(r"teams/(?P<team>[-\w]+)/members", views.TeamMemberViewSet, basename="team-member")
router.register("members", views.MemberViewSet, basename="member")
router.register("invitations", views.InvitationViewSet, basename="invitation")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("", views.OrganizationView.as_view(), name="organization"),
    *router.urls,
]
