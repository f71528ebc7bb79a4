from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from mindpost.accounts.models import User


def current_user(request: Request | HttpRequest) -> User:
    """The signed-in user of a view that requires authentication (typed for services)."""
    user = request.user
    if not isinstance(user, User):
        raise TypeError("current_user() needs an authenticated request")
    return user
