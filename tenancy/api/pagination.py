from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pages over an indexed ordering: no COUNT(*), stable under inserts.

    A view sets ``cursor_ordering`` to a unique, unchanging ordering.
    """

    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")

    def get_ordering(self, request, queryset, view):
        return getattr(view, "cursor_ordering", self.ordering)
