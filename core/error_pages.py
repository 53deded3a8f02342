"""The answers to errors no view handled: styled pages for people, JSON for machines.

Paths that machines call (the API, alert ingestion) get ``{"detail": …}`` like the rest of
the API; everything else gets the portal's pages (templates/400.html, 403.html, 404.html,
500.html and 403_csrf.html). None of them says more than the status: no exception text,
no internal detail. The 500 page renders from its template alone, without the database or
the request, since either may be what failed.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views import defaults

MACHINE_PATHS = ("/api/", "/v2/", "/integrations/")


def _for_machines(request) -> bool:
    return request.path.startswith(MACHINE_PATHS)


def bad_request(request, exception):
    if _for_machines(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _for_machines(request):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."}, status=403
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if _for_machines(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _for_machines(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)
