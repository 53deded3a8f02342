"""Post-incident reviews and their action items: /api/v1/orgs/<org>/reviews/….

Reporters cannot see reviews: every route answers them 404, like a review that does not
exist. Usernames and incident numbers in bodies resolve only inside the organization.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from incidents.selectors import incidents_visible
from reviews import selectors, services
from reviews.api.serializers import (
    ActionItemSerializer,
    ReviewCreateSerializer,
    ReviewFilter,
    ReviewSerializer,
    ReviewUpdateSerializer,
)
from reviews.models import ActionItem, PostIncidentReview
from tenancy.api.base import OrganizationScopedMixin

ID_MAX_DIGITS = 18
REVIEW = OpenApiParameter("review", int, OpenApiParameter.PATH, description="The review's id.")
ITEM = OpenApiParameter("item", int, OpenApiParameter.PATH, description="The action item's id.")


def _by_id_or_404(queryset, value: str):
    if not value.isascii() or not value.isdigit() or len(value) > ID_MAX_DIGITS:
        raise Http404("Not found.")
    obj = queryset.filter(pk=int(value)).first()
    if obj is None:
        raise Http404("Not found.")
    return obj


class ReviewScopedMixin(OrganizationScopedMixin):
    """Reporters (who hold no view permission on reviews) get 404 on every route."""

    def check_permissions(self, request):
        if self.organization is not None and not request.user.has_perm(
            "reviews.view_postincidentreview", self.organization
        ):
            raise Http404("Not found.")
        super().check_permissions(request)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "organization": self.organization}

    def reviews(self):
        return selectors.reviews_visible(
            organization=self.organization, role=self.role
        ).select_related("incident", "owner", "created_by")


@extend_schema(parameters=[REVIEW])
class ReviewViewSet(
    ReviewScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Post-incident reviews, newest first; filter with ``status``. Responders and up
    start one for a resolved or closed incident (``{"incident": <number>}``; 409 if the
    incident is open or already has a review), edit it and publish it. A published review
    is read-only: a change answers 409."""

    serializer_class = ReviewSerializer
    filterset_class = ReviewFilter
    perm_model = PostIncidentReview
    lookup_url_kwarg = "review"
    cursor_ordering = ("-created_at", "-id")
    action_perms = {"publish": "reviews.change_postincidentreview"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PostIncidentReview.objects.none()
        return self.reviews()

    def get_object(self):
        review = _by_id_or_404(self.get_queryset(), self.kwargs["review"])
        self.check_object_permissions(self.request, review)
        return review

    def get_serializer_class(self):
        return {
            "create": ReviewCreateSerializer,
            "partial_update": ReviewUpdateSerializer,
        }.get(self.action, ReviewSerializer)

    @extend_schema(request=ReviewCreateSerializer, responses={201: ReviewSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incidents = incidents_visible(
            organization=self.organization, user=request.user, role=self.role
        )
        incident = incidents.filter(number=serializer.validated_data["incident"]).first()
        if incident is None:
            raise serializers.ValidationError({"incident": ["Not found."]})
        review = services.review_create(
            organization=self.organization, actor=request.user, incident=incident
        )
        return Response(
            ReviewSerializer(self.reviews().get(pk=review.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=ReviewUpdateSerializer, responses={200: ReviewSerializer})
    def partial_update(self, request, *args, **kwargs):
        review = self.get_object()
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.review_update(
            organization=self.organization,
            actor=request.user,
            review=review,
            **serializer.validated_data,
        )
        return Response(ReviewSerializer(self.reviews().get(pk=review.pk)).data)

    @extend_schema(request=None, responses={200: ReviewSerializer})
    @action(detail=True, methods=["post"])
    def publish(self, request, *args, **kwargs):
        """Publishes the review (409 if it is published already)."""
        review = self.get_object()
        services.review_publish(organization=self.organization, actor=request.user, review=review)
        return Response(ReviewSerializer(self.reviews().get(pk=review.pk)).data)


@extend_schema(parameters=[REVIEW, ITEM])
class ActionItemViewSet(
    ReviewScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The review's action items, oldest first; responders and up add, change and delete.
    Once the review is published its items are still tracked (``status``, ``owner``,
    ``due_date``, ``external_url`` change) but not added, deleted or renamed (409)."""

    serializer_class = ActionItemSerializer
    perm_model = ActionItem
    lookup_url_kwarg = "item"
    cursor_ordering = ("created_at", "id")
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    _review = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if hasattr(self, request.method.lower()):
            self.review  # noqa: B018 -- another organization's review is 404 first

    @property
    def review(self) -> PostIncidentReview:
        if self._review is None:
            self._review = _by_id_or_404(self.reviews(), self.kwargs["review"])
        return self._review

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ActionItem.objects.none()
        return (
            ActionItem.objects.for_org(self.organization)
            .filter(review=self.review)
            .select_related("owner")
        )

    def get_object(self):
        item = _by_id_or_404(self.get_queryset(), self.kwargs["item"])
        self.check_object_permissions(self.request, item)
        return item

    def perform_create(self, serializer):
        serializer.instance = services.action_item_create(
            organization=self.organization,
            actor=self.request.user,
            review=self.review,
            **serializer.validated_data,
        )

    def partial_update(self, request, *args, **kwargs):
        item = self.get_object()
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        item = services.action_item_update(
            organization=self.organization,
            actor=request.user,
            item=item,
            **serializer.validated_data,
        )
        return Response(ActionItemSerializer(item, context=self.get_serializer_context()).data)

    def destroy(self, request, *args, **kwargs):
        services.action_item_delete(
            organization=self.organization, actor=request.user, item=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
