"""GET /api/posts/calendar/?start=&end=: the user's scheduled and published posts by local day."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.posts import calendar


class CalendarPostOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    network = serializers.CharField()
    format = serializers.CharField()
    excerpt = serializers.CharField()
    at = serializers.DateTimeField(help_text="When it publishes (scheduled) or did (published), in the user's zone.")
    date = serializers.DateField(help_text="The local day it is on.")
    scheduled_at = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    post_url = serializers.CharField()
    movable = serializers.BooleanField(help_text="Scheduled: can be rescheduled (PATCH scheduled_at).")


class CalendarOutput(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    time_zone = serializers.CharField()
    posts = CalendarPostOutput(many=True)


class PostCalendarView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First day (user's zone)."),
            OpenApiParameter("end", OpenApiTypes.DATE, required=True, description="Last day, included (≤ 62 days)."),
        ],
        responses={200: CalendarOutput, 400: OpenApiResponse(description="{code, detail, fields}")},
        description="Scheduled and published posts whose time falls on the given local days, oldest first.",
    )
    def get(self, request: Request) -> Response:
        user = current_user(request)
        start = calendar.parse_day(request.query_params.get("start"), field="start")
        end = calendar.parse_day(request.query_params.get("end"), field="end")
        tz = calendar.user_zone(user)
        entries = calendar.post_calendar(user=user, start=start, end=end, tz=tz)
        body = {
            "start": start,
            "end": end,
            "time_zone": tz.key,
            "posts": [
                {
                    "id": entry.post.pk,
                    "status": entry.post.status,
                    "network": entry.post.network,
                    "format": entry.post.format,
                    "excerpt": calendar.excerpt(entry.post),
                    "at": entry.local,
                    "date": entry.day,
                    "scheduled_at": entry.post.scheduled_at,
                    "published_at": entry.post.published_at,
                    "post_url": entry.post.post_url,
                    "movable": entry.draggable,
                }
                for entry in entries
            ],
        }
        return Response(CalendarOutput(body).data)
