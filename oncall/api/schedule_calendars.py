"""Calendar feeds of on-call shifts (iCalendar, ``text/calendar``).

- ``schedules/<id>/ical/``: everyone's shifts on the schedule.
- ``my-shifts/ical/``: the caller's shifts on every schedule of the organization.
- ``my-shifts/ical-token/``: a token for the two feeds above.

Both feeds cover ``weeks`` weeks (default 8, at most 12) from the start of the current
day (UTC), one event per person and stretch. A shift's UID comes from its schedule, person
and start, so it stays the same from one refresh to the next while the shift does; shifts
are computed from four weeks back so that a running shift keeps its real start (only one
that began even earlier shows the start of that look-back).

Calendar apps subscribe to a URL and cannot send an ``Authorization`` header, so the
feeds also accept ``?token=…`` from ``my-shifts/ical-token/``. The token is signed
(:mod:`django.core.signing`) and names one person in one organization: it opens these two
feeds only, for that organization only, as long as the person is a member there, and stops
working when their password changes (that is how to revoke it).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core import signing
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, re_path
from django.utils.timezone import now
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core.errors import DomainError
from oncall import ical, selectors
from oncall.api.ids import object_id
from oncall.models import Schedule
from oncall.rotations import final_segments
from tenancy.api.base import OrganizationScopedMixin

User = get_user_model()
SALT = "oncall.ical"
DEFAULT_WEEKS = 8
MAX_WEEKS = 12
LOOK_BACK = timedelta(weeks=4)


def calendar_token(user, organization) -> str:
    """A token that opens the user's calendar feeds of the organization."""
    payload = {"u": user.pk, "o": organization.pk, "h": user.get_session_auth_hash()[:16]}
    return signing.dumps(payload, salt=SALT)


class CalendarToken:
    """What a valid ``?token=`` authenticated (``request.auth``)."""

    def __init__(self, organization_id: int):
        self.organization_id = organization_id


class CalendarTokenAuthentication(BaseAuthentication):
    """``?token=`` from ``my-shifts/ical-token/``, on the calendar feeds only."""

    def authenticate(self, request):
        token = request.query_params.get("token")
        if not token:
            return None
        try:
            payload = signing.loads(token, salt=SALT)
            user = User.objects.get(pk=payload["u"], is_active=True)
        except (signing.BadSignature, User.DoesNotExist, KeyError, TypeError, ValueError):
            raise exceptions.AuthenticationFailed("Invalid calendar token.") from None
        if not signing.constant_time_compare(user.get_session_auth_hash()[:16], payload["h"]):
            raise exceptions.AuthenticationFailed("Invalid calendar token.")
        return user, CalendarToken(payload["o"])


class CalendarTokenScheme(OpenApiAuthenticationExtension):
    target_class = "oncall.api.schedule_calendars.CalendarTokenAuthentication"
    name = "CalendarToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "query",
            "name": "token",
            "description": "From my-shifts/ical-token/: opens the calendar feeds only.",
        }


class WeeksSerializer(serializers.Serializer):
    weeks = serializers.IntegerField(min_value=1, max_value=MAX_WEEKS, default=DEFAULT_WEEKS)
    token = serializers.CharField(required=False, help_text="A calendar token.")


class CalendarView(OrganizationScopedMixin, GenericAPIView):
    authentication_classes = [
        CalendarTokenAuthentication,
        *api_settings.DEFAULT_AUTHENTICATION_CLASSES,
    ]
    pagination_class = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        token = request.auth
        if isinstance(token, CalendarToken) and token.organization_id != self.organization.pk:
            raise Http404("Not found.")

    def window(self) -> tuple[datetime, datetime, datetime]:
        """(look-back start, today's start, end) of the feed."""
        query = WeeksSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        today = datetime.combine(now().date(), time(0), tzinfo=UTC)
        end = today + timedelta(weeks=query.validated_data["weeks"])
        return today - LOOK_BACK, today, end

    def calendar(self, shifts, name: str) -> HttpResponse:
        body = ical.export(
            shifts, name=name, domain=f"{self.organization.slug}.beacon", stamp=now()
        )
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="oncall.ics"'
        return response


ICAL_RESPONSE = {(200, "text/calendar"): OpenApiTypes.STR}


@extend_schema(
    parameters=[
        OpenApiParameter("schedule", int, OpenApiParameter.PATH, description="Schedule id."),
        WeeksSerializer,
    ],
    responses=ICAL_RESPONSE,
)
class ScheduleCalendarView(CalendarView):
    """The schedule's shifts as an iCalendar feed, one event per person and stretch."""

    perm_model = Schedule

    def get(self, request, *args, **kwargs):
        since, today, end = self.window()
        schedules = selectors.schedule_list(organization=self.organization, overrides_since=since)
        schedule = get_object_or_404(schedules, pk=object_id(kwargs["schedule"]))
        shifts = [
            ical.Shift(schedule, user, segment.start, segment.end)
            for segment in final_segments(schedule, since, end)
            if segment.end > today
            for user in segment.users
        ]
        return self.calendar(shifts, f"On call: {schedule.name}")


@extend_schema(parameters=[WeeksSerializer], responses=ICAL_RESPONSE)
class MyShiftsCalendarView(CalendarView):
    """Your shifts on every schedule of the organization, as an iCalendar feed."""

    perm_model = Schedule

    def get(self, request, *args, **kwargs):
        if not getattr(request.user, "pk", None):
            raise DomainError("An API key has no shifts: ask as a person.")
        since, today, end = self.window()
        shifts = [
            ical.Shift(schedule, request.user, segment.start, segment.end)
            for schedule, segment in selectors.user_shifts(
                organization=self.organization, user=request.user, start=since, end=end
            )
            if segment.end > today
        ]
        return self.calendar(shifts, f"My on-call shifts ({self.organization.name})")


@extend_schema(
    responses=inline_serializer(
        "CalendarToken",
        {
            "token": serializers.CharField(),
            "my_shifts_url": serializers.URLField(),
        },
    )
)
class CalendarTokenView(OrganizationScopedMixin, GenericAPIView):
    """A token for subscribing to your calendar feeds from a calendar app:
    ``…/my-shifts/ical/?token=…`` or ``…/schedules/<id>/ical/?token=…``."""

    perm_model = Schedule
    pagination_class = None

    def get(self, request, *args, **kwargs):
        if not getattr(request.user, "pk", None):
            raise DomainError("An API key has no calendar: ask as a person.")
        token = calendar_token(request.user, self.organization)
        url = request.build_absolute_uri(f"../ical/?token={token}")
        return Response({"token": token, "my_shifts_url": url})


urlpatterns = [
    re_path(
        r"^schedules/(?P<schedule>[^/.]+)/ical/$",
        ScheduleCalendarView.as_view(),
        name="schedule-ical",
    ),
    path("my-shifts/ical/", MyShiftsCalendarView.as_view(), name="my-shifts-ical"),
    path("my-shifts/ical-token/", CalendarTokenView.as_view(), name="my-shifts-ical-token"),
]
