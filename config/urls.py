from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import views as core_views
from tenancy import views as tenancy_views
from tenancy.forms import LoginForm

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=LoginForm
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password-reset/",
        tenancy_views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        tenancy_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("alerts.kinds")),  # Alert ingestion (PagerDuty, Alertmanager, Opsgenie…)
    path("", include("portal.urls")),
    path("", include("incidents.urls")),
    path("", include("reviews.views")),  # Post-incident reviews
    path("", include("alerts.portal")),  # Services pages: health, changes, integrations
    path("", include("oncall.portal")),  # Who is on call, schedules
    path("", include("oncall.urls")),  # The acknowledgement link of a page's e-mail
    path("", include("notifications.views")),  # Retrying a notification
]

# Styled pages for people, JSON for the API and ingestion (core/error_pages.py).
handler400 = "core.error_pages.bad_request"
handler403 = "core.error_pages.permission_denied"
handler404 = "core.error_pages.page_not_found"
handler500 = "core.error_pages.server_error"
