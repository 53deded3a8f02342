"""On-call in the portal: who is on call and schedules' calendars (``schedules``), and
escalation policies with their preview (``policies``)."""

from django.urls import path

from oncall.portal import policies, schedules

app_name = "oncall"

urlpatterns = [
    path("o/<slug:org>/oncall/", schedules.oncall_now, name="now"),
    path(
        "o/<slug:org>/oncall/schedules/<int:schedule>/",
        schedules.schedule_detail,
        name="schedule",
    ),
    path("o/<slug:org>/oncall/policies/", policies.policy_list, name="policies"),
    path("o/<slug:org>/oncall/policies/<int:policy>/", policies.policy_detail, name="policy"),
]
