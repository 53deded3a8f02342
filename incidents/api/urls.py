from rest_framework.routers import SimpleRouter

from incidents.api import attachments, catalog, views

router = SimpleRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register(
    r"incidents/(?P<number>[^/.]+)/timeline", views.TimelineViewSet, basename="incident-timeline"
)
router.register(
    r"incidents/(?P<number>[^/.]+)/comments", views.CommentViewSet, basename="incident-comment"
)
router.register(
    r"incidents/(?P<number>[^/.]+)/updates", views.StatusUpdateViewSet, basename="incident-update"
)
router.register("services", catalog.ServiceViewSet, basename="service")
router.register("categories", catalog.CategoryViewSet, basename="category")
attachments.register(router)

urlpatterns = router.urls
