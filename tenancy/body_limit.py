"""Request bodies larger than their route allows are refused before anything reads them.

Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` does not cover uploaded files, and the CSRF check
parses a multipart body to find its token, so without this an anonymous client could make
a web worker read (and spool to disk) a body of any size. The declared ``Content-Length``
is compared with the route's limit (``REQUEST_BODY_LIMITS``, else ``REQUEST_MAX_BYTES``)
and a larger body is answered 413 at once, unread. Routes that take files allow more only
to a logged-in user or a valid API key. A body sent without a length (chunked) is never
read: Django reads a request body only up to its declared length.
"""

from __future__ import annotations

import functools
import re

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from tenancy.services import api_key_authenticate


@functools.cache
def _compiled(rules: tuple) -> list[tuple[re.Pattern, int | None, bool]]:
    return [(re.compile(pattern), limit, authenticated) for pattern, limit, authenticated in rules]


def _rules():
    return _compiled(tuple(settings.REQUEST_BODY_LIMITS))


def _smallest_limit() -> int:
    limits = [limit for _, limit, _ in _rules() if limit is not None]
    return min([settings.REQUEST_MAX_BYTES, *limits])


def _authenticated(request) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return True
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and api_key_authenticate(raw.strip()) is not None


def body_limit(request) -> int | None:
    """The most bytes this request's body may have; None where the view decides."""
    default = settings.REQUEST_MAX_BYTES
    for pattern, limit, needs_authentication in _rules():
        if pattern.search(request.path_info):
            if needs_authentication and not _authenticated(request):
                return default
            return limit
    return default


def _too_large(request, limit: int) -> HttpResponse:
    message = f"The request body is too large: at most {limit} bytes here."
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=413)
    else:
        response = HttpResponse(message + "\n", status=413, content_type="text/plain")
    return response


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > _smallest_limit():  # small bodies need no look at the route
            limit = body_limit(request)
            if limit is not None and declared > limit:
                return _too_large(request, limit)
        return self.get_response(request)
