"""Account endpoints of the JSON API (JWT). Thin: parse, call a service, render."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView, TokenVerifyView

from mindpost.accounts import serializers as s
from mindpost.accounts import services
from mindpost.accounts.auth import current_user
from mindpost.accounts.lockout import (
    LOCKED_OUT_DETAIL,
    SIGNIN_RETRY_ATTR,
    SIGNIN_THROTTLED_DETAIL,
    account_email_limit,
    cooloff_seconds,
)
from mindpost.core import userdata
from mindpost.core.errors import Invalid, RateLimited
from mindpost.core.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

AUTH_THROTTLES: list[type[BaseThrottle]] = [AnonRateThrottle, UserRateThrottle, ScopedRateThrottle]


class AuthThrottled(APIView):
    """A tight per-IP limit (the `auth` rate) on top of the usual ones."""

    throttle_classes = AUTH_THROTTLES
    throttle_scope = "auth"


class TokenObtainView(AuthThrottled, TokenObtainPairView):
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            response = super().post(request, *args, **kwargs)
        finally:
            # The per-account limit (lockout.AccountSigninLimitBackend) refused to check the password.
            retry_after = getattr(request._request, SIGNIN_RETRY_ATTR, None)
            if retry_after is not None:
                raise RateLimited(SIGNIN_THROTTLED_DETAIL, code="throttled", extra={"retry_after": retry_after})
            # django-axes flags the request when the email + IP pair is locked out.
            if getattr(request, "axes_locked_out", False) or getattr(request._request, "axes_locked_out", False):
                raise RateLimited(LOCKED_OUT_DETAIL, code="locked_out", extra={"retry_after": cooloff_seconds()})
        return response


class TokenRefresh(AuthThrottled, TokenRefreshView):
    pass


class TokenVerify(AuthThrottled, TokenVerifyView):
    pass


class SignedOutView(AuthThrottled):
    """Endpoints used before signing in: no token, the tight `auth` rate."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []


def _validated(serializer_class: type[Serializer[Any]], request: Request) -> dict[str, Any]:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


class RegisterView(SignedOutView):
    @extend_schema(request=s.RegisterInput, responses={201: s.RegisterOutput})
    def post(self, request: Request) -> Response:
        data = _validated(s.RegisterInput, request)
        # The same answer whether or not the address has an account (see services.user_register).
        services.user_register(email=data["email"], password=data["password"])
        body = {
            "email": data["email"].lower(),
            "detail": "Check your inbox: we sent a link to verify your email address.",
        }
        return Response(body, status=status.HTTP_201_CREATED)


class VerifyEmailView(SignedOutView):
    @extend_schema(request=s.KeyInput, responses={200: s.DetailOutput})
    def post(self, request: Request) -> Response:
        data = _validated(s.KeyInput, request)
        services.email_verify(key=data["key"], request=request._request)
        return Response({"detail": "Your email address is verified. You can sign in."})


class ResendVerificationView(SignedOutView):
    @extend_schema(request=s.EmailInput, responses={202: s.DetailOutput})
    def post(self, request: Request) -> Response:
        data = _validated(s.EmailInput, request)
        account_email_limit(email=data["email"])
        services.email_verification_resend(email=data["email"])
        return Response(
            {"detail": "If that address has an unverified account, a new link is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetView(SignedOutView):
    @extend_schema(request=s.EmailInput, responses={202: s.DetailOutput})
    def post(self, request: Request) -> Response:
        data = _validated(s.EmailInput, request)
        account_email_limit(email=data["email"])
        services.password_reset_request(email=data["email"], request=request._request)
        return Response(
            {"detail": "If that address has an account, a reset link is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmView(SignedOutView):
    @extend_schema(request=s.PasswordResetConfirmInput, responses={200: s.DetailOutput})
    def post(self, request: Request) -> Response:
        data = _validated(s.PasswordResetConfirmInput, request)
        services.password_reset_confirm(key=data["key"], password=data["password"])
        return Response({"detail": "Your password has been changed. Sign in with the new one."})


class MeView(APIView):
    @extend_schema(responses={200: s.ProfileOutput})
    def get(self, request: Request) -> Response:
        return Response(s.ProfileOutput(current_user(request)).data)

    @extend_schema(request=s.ProfileInput, responses={200: s.ProfileOutput})
    def patch(self, request: Request) -> Response:
        data = s.ProfileInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update(
            user=current_user(request),
            display_name=data.validated_data.get("display_name"),
            time_zone=data.validated_data.get("timezone"),
        )
        return Response(s.ProfileOutput(user).data)


class _ExportFormatParam(DefaultContentNegotiation):
    """Here `?format=` names the export's format, not one of DRF's renderers (errors stay JSON)."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)  # type: ignore[assignment]


class ExportView(APIView):
    content_negotiation_class = _ExportFormatParam

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=["json", "markdown"],
                description="`json` (default): all your data as JSON files plus your stored files. "
                "`markdown`: one Markdown file per note with YAML front matter (for Obsidian), streamed.",
            )
        ],
        responses={(200, "application/zip"): OpenApiResponse(description="A zip of all your data.")},
    )
    def get(self, request: Request) -> FileResponse | StreamingHttpResponse:
        user = current_user(request)
        name = request.query_params.get("format") or "json"
        if name == "json":
            archive = services.account_export(user=user)
            return FileResponse(
                archive, as_attachment=True, filename="mindpost-export.zip", content_type="application/zip"
            )
        export_format = userdata.export_formats().get(name)
        if export_format is None:
            choices = ", ".join(["json", *sorted(userdata.export_formats())])
            raise Invalid(
                f"Unknown export format. Choose one of: {choices}.",
                code="unknown_format",
                fields={"format": [f"One of: {choices}."]},
            )
        chunks = export_format.stream(user)
        content = _async_chunks(chunks) if isinstance(request._request, ASGIRequest) else chunks
        response = StreamingHttpResponse(content, content_type=export_format.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export_format.filename}"'
        response["Cache-Control"] = "private, no-store"
        return response


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Under ASGI a sync iterator would be read whole into memory first: pull chunk by chunk, each
    # in the request's own thread (thread-sensitive), where its database connection lives.
    def pull() -> bytes | None:
        return next(chunks, None)

    try:
        while (chunk := await sync_to_async(pull)()) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close)()  # type: ignore[attr-defined]


class AccountDeleteView(APIView):
    """Deletes the account and everything it owns, for good. POST (reference path) or DELETE.

    Needs the current password besides the token, so a leaked token alone cannot erase an account.
    """

    @extend_schema(request=s.AccountDeleteInput, responses={200: s.AccountDeleteOutput})
    def post(self, request: Request) -> Response:
        data = _validated(s.AccountDeleteInput, request)
        user = current_user(request)
        services.password_confirm(user=user, password=data["password"])
        services.account_delete(user=user)
        return Response(
            {"status": "success", "message": "Your account and all of its data have been deleted."},
            status=status.HTTP_200_OK,
        )

    @extend_schema(request=s.AccountDeleteInput, responses={200: s.AccountDeleteOutput})
    def delete(self, request: Request) -> Response:
        return self.post(request)
