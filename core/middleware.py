"""Requests refused before any view sees them."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.http import JsonResponse
from django.urls import get_resolver

NUL = "\x00"
MESSAGE = "NUL bytes are not allowed."


class RefuseNulBytesMiddleware:
    """A NUL byte in a URL's path or query string answers 400.

    PostgreSQL text cannot hold NUL, so a search box, a filter or an identifier carrying
    one failed in the query and answered 500; no legitimate value contains one. Checking
    the URL once covers the portal's searches, the admin's search boxes and filters, and
    the API's filters and lookups alike. (Bodies are checked by their form and serializer
    fields, which refuse NUL bytes.)

    A browser gets the 400 page; any other client JSON naming the offending parameters,
    like the API's other field errors.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        fields = sorted(
            {
                key
                for key, values in request.GET.lists()
                if NUL in key or any(NUL in value for value in values)
            }
        )
        if not fields and NUL not in request.path_info:
            return self.get_response(request)
        if "text/html" in request.headers.get("Accept", ""):
            bad_request = get_resolver().resolve_error_handler(400)
            return bad_request(request, exception=BadRequest(MESSAGE))
        errors = {field: [MESSAGE] for field in fields} or {"detail": MESSAGE}
        return JsonResponse(errors, status=400)
