from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N` as in the reference, plus the `page_size` it documented but ignored."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
