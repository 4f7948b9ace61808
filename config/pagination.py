from rest_framework.pagination import CursorPagination


class CursorPage(CursorPagination):
    """`{"next", "previous", "results"}` with `?page_size=` up to 200 (API.md)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"

    def get_page_size(self, request):
        # A bad page_size falls back to the default rather than erroring (DRF behaviour).
        return super().get_page_size(request)


class ChronologyPage(CursorPage):
    ordering = ("-at", "-id")


class ReferencePage(CursorPage):
    ordering = "reference"
