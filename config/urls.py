from collections.abc import Callable

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from mindpost.core import errors, health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("mindpost.accounts.urls")),
    path("api/", include("mindpost.billing.urls")),
    path("api/", include("mindpost.notes.urls")),
    path("api/", include("mindpost.chat.urls")),
    path("api/", include("mindpost.posts.urls")),
    path("subscriptions/", include("mindpost.billing.reference_urls")),
    # OAuth connect/callback/disconnect for X and LinkedIn (session auth; the callback also ends the mobile flow).
    path("settings/connections/", include("mindpost.posts.web_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("mindpost.web.urls")),
]


def _page_or_json(
    template: str, json_view: Callable[[HttpRequest], HttpResponse], status: int
) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
        if errors.is_api_request(request):
            return json_view(request)
        return render(request, template, status=status)

    return view


handler400 = _page_or_json("errors/400.html", errors.json_bad_request, 400)
handler403 = _page_or_json("errors/403.html", errors.json_forbidden, 403)
handler404 = _page_or_json("errors/404.html", errors.json_not_found, 404)
handler500 = _page_or_json("errors/500.html", errors.json_server_error, 500)
