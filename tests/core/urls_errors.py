"""Beacon's URLs plus views that fail, for the error page tests."""

from django.core.exceptions import BadRequest, PermissionDenied
from django.urls import path

from config import urls as beacon_urls

beacon = beacon_urls.urlpatterns
# Beacon's error handlers, where config.urls names them.
for _name in ("handler400", "handler403", "handler404", "handler500"):
    if hasattr(beacon_urls, _name):
        globals()[_name] = getattr(beacon_urls, _name)


def fail(request):
    raise RuntimeError("secret internal detail")


def refuse(request):
    raise PermissionDenied("secret internal detail")


def reject(request):
    raise BadRequest("secret internal detail")


urlpatterns = [
    path("fail/", fail),
    path("refuse/", refuse),
    path("reject/", reject),
    path("api/v1/fail/", fail),
    path("api/v1/refuse/", refuse),
    *beacon,
]
