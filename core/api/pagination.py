from django.core.exceptions import ValidationError
from rest_framework import exceptions, pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pages over an indexed ordering: no COUNT(*), stable under inserts.

    A view sets ``cursor_ordering`` to a unique, unchanging ordering. A forged cursor whose
    position the ordering field cannot take (a NUL byte, not a datetime) answers "Invalid
    cursor" like any other bad cursor, never 500.
    """

    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")

    def get_ordering(self, request, queryset, view):
        return getattr(view, "cursor_ordering", self.ordering)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None and "\x00" in cursor.position:
            raise exceptions.NotFound(self.invalid_cursor_message)
        return cursor

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, OverflowError, ValidationError) as exc:
            raise exceptions.NotFound(self.invalid_cursor_message) from exc
