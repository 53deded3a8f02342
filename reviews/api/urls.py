"""/api/v1/orgs/<org>/reviews/ and a review's action items."""

from rest_framework.routers import SimpleRouter

from reviews.api import views

router = SimpleRouter()
router.register("reviews", views.ReviewViewSet, basename="review")
router.register(
    r"reviews/(?P<review>[^/.]+)/action-items",
    views.ActionItemViewSet,
    basename="review-action-item",
)

urlpatterns = router.urls
