"""Schedules in /api/v1/orgs/<org>/.

- ``schedules/`` and ``schedules/<id>/``: everyone but reporters reads them; admins and
  owners create, change (PATCH; given ``layers`` replace all layers) and delete them.
- ``schedules/<id>/oncall/?at=``: who is on call at a moment (default now) and until when.
- ``schedules/<id>/shifts/?start=&end=``: the resolved schedule over at most 90 days.
- ``schedules/<id>/overrides/``: someone covers a time range (responders and up).
- ``schedules/<id>/swaps/``: a responder offers a shift of their own (``POST``), a colleague
  takes it (``…/<swap>/accept/``, which makes an override) or the offerer withdraws it
  (``…/<swap>/cancel/``). Admins act for others (``offered_by``, ``taken_by``).
- ``schedules/<id>/import/``: overrides from an .ics file (multipart ``file`` or a
  ``text/calendar`` body), one per event for the member it names.
- Calendar feeds: see :mod:`oncall.api.schedule_calendars`.

Another organization's schedule answers 404, like one that does not exist.
"""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.utils.timezone import now
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import mixins, parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from oncall import ical, selectors
from oncall.api import schedule_calendars
from oncall.api.ids import ID, object_id
from oncall.api.schedule_serializers import (
    AtSerializer,
    ImportResultSerializer,
    OnCallSerializer,
    OverrideSerializer,
    RangeSerializer,
    ScheduleSerializer,
    SegmentSerializer,
    SwapAcceptSerializer,
    SwapSerializer,
)
from oncall.models import Override, Schedule, Swap
from oncall.rotations import HORIZON, final_segments, oncall_at
from oncall.services import schedules as services
from tenancy.api.base import OrganizationScopedMixin

SCHEDULE = OpenApiParameter("schedule", int, OpenApiParameter.PATH, description="Schedule id.")
MAX_RANGE = HORIZON


class CalendarParser(parsers.BaseParser):
    """A ``text/calendar`` body, handed over as bytes."""

    media_type = "text/calendar"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"file": stream.read(ical.MAX_IMPORT_BYTES + 1) if stream else b""}


class IdLookupMixin:
    """Detail routes take ``<pk>`` as any path segment and answer 404 for non-ids."""

    lookup_value_regex = ID

    def get_object(self):
        self.kwargs[self.lookup_url_kwarg or self.lookup_field] = object_id(self.kwargs["pk"])
        return super().get_object()


def _query(serializer_class, request):
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ScheduleViewSet(IdLookupMixin, OrganizationScopedMixin, viewsets.ModelViewSet):
    """The organization's on-call schedules with their layers and current overrides."""

    serializer_class = ScheduleSerializer
    perm_model = Schedule
    cursor_ordering = ("name",)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_perms = {
        "oncall": "oncall.view_schedule",
        "shifts": "oncall.view_schedule",
        "import_calendar": "oncall.add_override",
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Schedule.objects.none()
        return selectors.schedule_list(organization=self.organization)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "organization": self.organization}

    def _with_overrides_since(self, since):
        """The schedule, with the overrides that ended after ``since`` (a past moment's
        answer counts the overrides that were running then)."""
        schedule = self.get_object()
        return selectors.schedule_get(
            organization=self.organization, pk=schedule.pk, overrides_since=since
        )

    def _render(self, schedule, status_code=status.HTTP_200_OK):
        schedule = selectors.schedule_get(organization=self.organization, pk=schedule.pk)
        return Response(self.get_serializer(schedule).data, status=status_code)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = services.schedule_create(
            organization=self.organization, actor=request.user, **serializer.validated_data
        )
        return self._render(schedule, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        schedule = self.get_object()
        serializer = self.get_serializer(schedule, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.schedule_update(
            organization=self.organization,
            actor=request.user,
            schedule=schedule,
            **serializer.validated_data,
        )
        return self._render(schedule)

    def perform_destroy(self, instance):
        services.schedule_delete(
            organization=self.organization, actor=self.request.user, schedule=instance
        )

    @extend_schema(parameters=[AtSerializer], responses={200: OnCallSerializer})
    @action(detail=True, methods=["get"])
    def oncall(self, request, *args, **kwargs):
        """Who is on call at ``at`` (default now), and until when that holds."""
        at = _query(AtSerializer, request).get("at") or now()
        answer = oncall_at(self._with_overrides_since(min(at, now())), at)
        return Response(
            OnCallSerializer(
                {"users": [user.username for user in answer.users], "until": answer.until}
            ).data
        )

    @extend_schema(parameters=[RangeSerializer], responses={200: SegmentSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def shifts(self, request, *args, **kwargs):
        """The resolved schedule from ``start`` to ``end`` (at most 90 days apart): who is
        on call in each stretch, nobody included."""
        query = _query(RangeSerializer, request)
        start = query.get("start") or now()
        end = query.get("end") or start + timedelta(days=7)
        if end <= start:
            raise ValidationError({"end": ["The end must be after the start."]})
        if end - start > MAX_RANGE:
            raise ValidationError({"end": [f"At most {MAX_RANGE.days} days after the start."]})
        segments = final_segments(self._with_overrides_since(min(start, now())), start, end)
        return Response(SegmentSerializer(segments, many=True).data)

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
            "text/calendar": OpenApiTypes.BINARY,
        },
        responses={200: ImportResultSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="import",
        parser_classes=[parsers.MultiPartParser, CalendarParser],
    )
    def import_calendar(self, request, *args, **kwargs):
        """Overrides from an .ics file: each event covers the schedule for the member its
        ATTENDEE or ORGANIZER e-mail, or its SUMMARY (username or e-mail), names. Events
        that cannot be one are listed with the reason; an event the schedule has already (the
        file imported again) is counted as unchanged; the others are created."""
        schedule = self.get_object()
        upload = request.data.get("file")
        if isinstance(upload, str):  # a form field rather than a file
            upload = upload.encode()
        if isinstance(upload, bytes):
            data = upload
        elif hasattr(upload, "read"):
            data = upload.read(ical.MAX_IMPORT_BYTES + 1)
        else:
            raise ValidationError({"file": ["Send an .ics file."]})
        events, error = ical.parse(data, schedule.time_zone)
        if error:
            raise ValidationError({"file": [error]})
        result = services.overrides_import(
            organization=self.organization, actor=request.user, schedule=schedule, events=events
        )
        return Response(ImportResultSerializer(result).data)


class ScheduleChildMixin(OrganizationScopedMixin):
    """Views under schedules/<schedule>/: the schedule is one of the organization's."""

    _schedule = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if hasattr(self, request.method.lower()):
            self.schedule  # noqa: B018 -- another organization's schedule is 404 first

    @property
    def schedule(self) -> Schedule:
        if self._schedule is None:
            self._schedule = get_object_or_404(
                Schedule.objects.for_org(self.organization),
                pk=object_id(self.kwargs["schedule"]),
            )
        return self._schedule

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "organization": self.organization}


@extend_schema(parameters=[SCHEDULE])
class OverrideViewSet(
    IdLookupMixin,
    ScheduleChildMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Overrides of the schedule that have not ended: whoever they name is on call,
    whatever the layers say."""

    serializer_class = OverrideSerializer
    perm_model = Override
    cursor_ordering = ("start", "id")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Override.objects.none()
        return selectors.override_list(organization=self.organization, schedule=self.schedule)

    def perform_create(self, serializer):
        serializer.instance = services.override_create(
            organization=self.organization,
            actor=self.request.user,
            schedule=self.schedule,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance):
        services.override_delete(
            organization=self.organization, actor=self.request.user, override=instance
        )


@extend_schema(parameters=[SCHEDULE])
class SwapViewSet(
    IdLookupMixin,
    ScheduleChildMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Shifts offered for a colleague to take, and what became of them."""

    serializer_class = SwapSerializer
    perm_model = Swap
    cursor_ordering = ("start", "id")
    action_perms = {"accept": "oncall.change_swap", "cancel": "oncall.change_swap"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Swap.objects.none()
        return selectors.swap_list(organization=self.organization, schedule=self.schedule)

    def perform_create(self, serializer):
        serializer.instance = services.swap_offer(
            organization=self.organization,
            actor=self.request.user,
            schedule=self.schedule,
            **serializer.validated_data,
        )

    @extend_schema(request=SwapAcceptSerializer, responses={200: SwapSerializer})
    @action(detail=True, methods=["post"])
    def accept(self, request, *args, **kwargs):
        """Takes the offered shift: an override for its range names the taker."""
        serializer = SwapAcceptSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        swap = services.swap_accept(
            organization=self.organization,
            actor=request.user,
            swap=self.get_object(),
            **serializer.validated_data,
        )
        return Response(self.get_serializer(swap).data)

    @extend_schema(request=None, responses={200: SwapSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, *args, **kwargs):
        """Withdraws an offer nobody has taken (the offerer, or an admin)."""
        swap = services.swap_cancel(
            organization=self.organization, actor=request.user, swap=self.get_object()
        )
        return Response(self.get_serializer(swap).data)


router = SimpleRouter()
router.register(r"schedules", ScheduleViewSet, basename="schedule")
router.register(
    rf"schedules/(?P<schedule>{ID})/overrides", OverrideViewSet, basename="schedule-override"
)
router.register(rf"schedules/(?P<schedule>{ID})/swaps", SwapViewSet, basename="schedule-swap")
urlpatterns = router.urls + schedule_calendars.urlpatterns
