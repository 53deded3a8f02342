"""Requests refused before any view sees them."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.urls import get_resolver


class RefuseNulBytesMiddleware:
    """A NUL byte in a URL's path or query string answers 400.

    PostgreSQL text cannot hold NUL, so a search box, a filter or an identifier carrying
    one failed in the query and answered 500; no legitimate value contains one. Checking
    the URL once covers the portal's searches, the admin's search boxes and filters, and
    the API's filters and lookups alike. (Bodies are checked by their form and serializer
    fields, which refuse NUL bytes.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            bad_request = get_resolver().resolve_error_handler(400)
            return bad_request(request, exception=BadRequest("A NUL byte in the URL."))
        return self.get_response(request)
