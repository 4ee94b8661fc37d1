"""Default pagination: cursors, so lists that grow stay stable and fast to page through."""

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    ordering = "-created"
    page_size_query_param = "page_size"
    max_page_size = 500
