"""Reviews in the admin: read, corrected and their action items kept, through the same
services as the portal and the API."""

from django.contrib import admin, messages

from reviews import services
from reviews.models import ActionItem, PostIncidentReview
from tenancy.admin_base import TenantAdmin, TenantInline


def _is_published(review) -> bool:
    return review is not None and review.status == PostIncidentReview.State.PUBLISHED


class ActionItemInline(TenantInline):
    """A published review's items are still tracked (status, owner, due date, link); they
    are neither added nor removed, and their titles stay as published."""

    model = ActionItem
    fields = list(services.ACTION_ITEM_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if _is_published(obj):
            fields += [f for f in self.fields if f not in services.ACTION_ITEM_TRACKING_FIELDS]
        return fields

    def has_add_permission(self, request, obj=None):
        return not _is_published(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _is_published(obj) and super().has_delete_permission(request, obj)


@admin.register(PostIncidentReview)
class PostIncidentReviewAdmin(TenantAdmin):
    """Reviews are started from a resolved or closed incident (portal or API); here they
    are read, corrected and their action items kept."""

    list_display = ["incident", "organization", "status", "owner", "created_at", "published_at"]
    list_filter = ["status"]
    search_fields = ["incident__title", "summary"]
    list_select_related = ["organization", "incident", "owner"]
    readonly_fields = [
        "incident",
        "status",
        "created_by",
        "created_at",
        "updated_at",
        "published_at",
    ]
    fields = [
        "organization",
        "incident",
        "status",
        "owner",
        "summary",
        "impact",
        "root_causes",
        "contributing_factors",
        "lessons",
        "timeline_summary",
        "created_by",
        "created_at",
        "updated_at",
        "published_at",
    ]
    inlines = [ActionItemInline]

    def get_readonly_fields(self, request, obj=None):
        """A published review is the record: only its action items are still kept."""
        if _is_published(obj):
            return self.fields
        return super().get_readonly_fields(request, obj)

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return not _is_published(obj) and super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        published = queryset.filter(status=PostIncidentReview.State.PUBLISHED)
        if published.exists():
            self.message_user(
                request, "Published reviews are kept: they were not deleted.", messages.WARNING
            )
        super().delete_queryset(request, queryset.exclude(pk__in=published.values("pk")))

    def save_model(self, request, obj, form, change):
        """Through the same services as the portal and the API."""
        changes = {
            f: form.cleaned_data[f] for f in form.changed_data if f in services.REVIEW_FIELDS
        }
        if changes:
            services.review_update(
                organization=obj.organization, actor=request.user, review=obj, **changes
            )

    def save_formset(self, request, form, formset, change):
        review, actor = form.instance, request.user
        organization = review.organization
        formset.save(commit=False)
        for item in formset.deleted_objects:
            services.action_item_delete(organization=organization, actor=actor, item=item)
        for item, changed in formset.changed_objects:
            services.action_item_update(
                organization=organization,
                actor=actor,
                item=item,
                **{field: getattr(item, field) for field in changed},
            )
        for item in formset.new_objects:
            created = services.action_item_create(
                organization=organization,
                actor=actor,
                review=review,
                **{field: getattr(item, field) for field in services.ACTION_ITEM_FIELDS},
            )
            item.pk = created.pk
