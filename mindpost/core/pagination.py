from typing import Any

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N` as in the reference, plus the `page_size` it documented but ignored.

    List views that use it set `pagination_class = PageNumberPagination`, so the schema shows
    the envelope below instead of a bare array. A page past the end is a 404 (`not_found`).
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        # Exactly what get_paginated_response() returns: all four keys, always present.
        return {
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "minimum": 0, "example": 123, "description": "Items on all pages."},
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "example": "http://api.example.org/api/posts/?page=4",
                    "description": "The next page, or null on the last one.",
                },
                "previous": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "example": "http://api.example.org/api/posts/?page=2",
                    "description": "The previous page, or null on the first one.",
                },
                "results": schema,
            },
        }
