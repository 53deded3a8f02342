"""On-call in the portal: who is on call and schedules' calendars (``schedules``),
escalation policies with their preview (``policies``), and the viewer's pages and the
incident page's escalation panel (``pages``)."""

from django.urls import path

from oncall.portal import pages, policies, report, schedules

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
    path("o/<slug:org>/oncall/report/", report.oncall_report, name="report"),
    path("o/<slug:org>/pages/", pages.my_pages, name="pages"),
    path("o/<slug:org>/pages/<int:page>/acknowledge/", pages.page_acknowledge, name="acknowledge"),
    path("o/<slug:org>/incidents/<int:number>/escalate/", pages.incident_escalate, name="escalate"),
    path("o/<slug:org>/incidents/<int:number>/page/", pages.incident_page, name="page"),
]
