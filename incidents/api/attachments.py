"""Files attached to an incident: incidents/<number>/attachments/ and …/<attachment_id>/.

The incident is looked up among those the principal may see first, so another
organization's incident, or another reporter's, answers 404; the attachment is looked up
among that incident's own. A download is served by this view (never from MEDIA_ROOT):
as an attachment, with the stored, sniffed content type and ``nosniff``.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from incidents import services
from incidents.api.views import NUMBER, IncidentChildMixin
from incidents.models import Attachment

ATTACHMENT_ID = OpenApiParameter(
    "attachment_id", int, OpenApiParameter.PATH, description="The attachment's id."
)
ID_MAX_DIGITS = 18


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "content_type", "size", "uploaded_by", "created_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        incident = self.context["incident"]
        path = reverse(
            "incident-attachment-detail",
            kwargs={
                "org": self.context["organization"].slug,
                "number": incident.number,
                "attachment_id": obj.pk,
            },
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=False, help_text="Images, PDF, text, CSV, JSON, log files or ZIP."
    )


@extend_schema(parameters=[NUMBER])
class AttachmentViewSet(
    IncidentChildMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Files attached to the incident, oldest first. Reporters attach to incidents they
    reported, responders to any; responders remove them. Everyone who sees the incident
    lists and downloads them."""

    serializer_class = AttachmentSerializer
    perm_model = Attachment
    lookup_url_kwarg = "attachment_id"
    lookup_value_regex = "[^/.]+"
    parser_classes = [MultiPartParser, FormParser]
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Attachment.objects.none()
        return (
            Attachment.objects.for_org(self.organization)
            .filter(incident=self.incident)
            .select_related("uploaded_by")
            .order_by("created_at", "id")
        )

    def get_object(self):
        value = self.kwargs["attachment_id"]
        if not value.isascii() or not value.isdigit() or len(value) > ID_MAX_DIGITS:
            raise Http404("No such attachment.")
        attachment = get_object_or_404(self.get_queryset(), pk=int(value))
        self.check_object_permissions(self.request, attachment)
        return attachment

    def get_serializer_context(self):
        context = {**super().get_serializer_context(), "organization": self.organization}
        if not getattr(self, "swagger_fake_view", False):
            context["incident"] = self.incident
        return context

    def get_serializer_class(self):
        return AttachmentUploadSerializer if self.action == "create" else AttachmentSerializer

    @extend_schema(
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
    )
    def create(self, request, *args, **kwargs):
        upload = AttachmentUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        attachment = services.attachment_add(
            organization=self.organization,
            actor=request.user,
            incident=self.incident,
            upload=upload.validated_data["file"],
        )
        data = AttachmentSerializer(attachment, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[ATTACHMENT_ID],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file, as an attachment."
            )
        },
    )
    def retrieve(self, request, *args, **kwargs):
        return file_response(self.get_object())

    @extend_schema(parameters=[ATTACHMENT_ID])
    def destroy(self, request, *args, **kwargs):
        services.attachment_remove(
            organization=self.organization, actor=request.user, attachment=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def file_response(attachment: Attachment) -> FileResponse:
    """The stored file as a download; shared by the API and the portal."""
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


def register(router) -> None:
    router.register(
        r"incidents/(?P<number>[^/.]+)/attachments",
        AttachmentViewSet,
        basename="incident-attachment",
    )
