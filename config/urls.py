from collections.abc import Callable

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.urls import Resolver404, include, path, re_path, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from mindpost.billing import reference_urls as billing_reference_urls
from mindpost.channels import urls as channel_urls
from mindpost.core import errors, health, metrics_view, overload
from mindpost.web import urls as web_urls

API_NOT_FOUND = "api-not-found"


@csrf_exempt  # a POST to an unknown URL is a 404, not a CSRF failure page
def api_not_found(request: HttpRequest) -> HttpResponse:
    """An /api/ URL that no route matched: the JSON error shape, also with DEBUG on.

    With DEBUG, Django answers a URL that matches no route with its HTML technical page and
    never calls handler404 (a `<slug:...>` or `<uuid:...>` converter that refuses a value is
    such a miss), so the API needs this catch-all route. Because it matches every /api/ path,
    CommonMiddleware no longer sees the miss: APPEND_SLASH's redirect is repeated here.
    """
    if settings.APPEND_SLASH and not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.url_name != API_NOT_FOUND:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return errors.json_not_found(request)


urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("mindpost.accounts.urls")),
    path("api/", include("mindpost.billing.urls")),
    path("api/", include("mindpost.notes.urls")),
    path("api/", include("mindpost.imports.urls")),
    path("api/", include("mindpost.chat.urls")),
    path("api/", include("mindpost.posts.urls")),
    path("api/", include("mindpost.channels.urls")),
    # The reference's /subscriptions/ paths, one "billing" namespace: billing's Stripe webhook and the plan pages.
    path(
        "subscriptions/",
        include(([*billing_reference_urls.urlpatterns, *web_urls.subscription_urlpatterns], "billing")),
    ),
    # OAuth connect/callback/disconnect for X and LinkedIn (session auth; the callback also ends the mobile flow).
    path("settings/connections/", include(web_urls.connection_urlpatterns)),
    # The WhatsApp and Telegram webhooks (signed; no session, no CSRF).
    path("", include(channel_urls.webhook_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Last of the /api/ routes: every other /api/ URL is a JSON 404 (see api_not_found).
    re_path(r"^api/", api_not_found, name=API_NOT_FOUND),
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
_server_error = _page_or_json("errors/500.html", errors.json_server_error, 500)


def handler500(request: HttpRequest) -> HttpResponse:
    # A pool timeout or a refused connection raised outside a view (in a middleware) lands here:
    # that is overload, answered 503 + Retry-After, not a 500 (see mindpost/core/overload.py).
    return overload.response_for_current_exception(request) or _server_error(request)
