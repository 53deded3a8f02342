"""On-call in the portal: who is on call and schedules' calendars (``schedules``)."""

from django.urls import path

from oncall.portal import schedules

app_name = "oncall"

urlpatterns = [
    path("o/<slug:org>/oncall/", schedules.oncall_now, name="now"),
    path(
        "o/<slug:org>/oncall/schedules/<int:schedule>/",
        schedules.schedule_detail,
        name="schedule",
    ),
]
