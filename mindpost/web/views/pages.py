"""Landing, settings and account pages."""

from __future__ import annotations

from zoneinfo import available_timezones

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from mindpost.accounts import services as account_services
from mindpost.core.errors import Invalid
from mindpost.notes import rewrites as note_rewrites
from mindpost.notes import services as note_services
from mindpost.web import panels
from mindpost.web.helpers import navigate, web_user

_TIMEZONES = sorted(available_timezones())
# Whisper detects the language by itself; naming it helps with short or mixed recordings.
LANGUAGES = [
    ("", "Detect automatically"),
    ("en", "English"),
    ("de", "German"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("nl", "Dutch"),
    ("el", "Greek"),
    ("pl", "Polish"),
    ("tr", "Turkish"),
    ("ja", "Japanese"),
    ("zh", "Chinese"),
]


def landing(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:record")
    return render(request, "landing.html")


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    user = web_user(request)
    context = {"timezones": _TIMEZONES, "languages": LANGUAGES, **panels.settings_panels(request=request, user=user)}
    # The own-styles editor, from the settings row the panels loaded.
    context["rewrite_styles"] = note_rewrites.custom_styles(user=user, note_settings=context["note_settings"])
    return render(request, "web/settings.html", context)


@login_required
@require_POST
def settings_profile(request: HttpRequest) -> HttpResponse:
    user = web_user(request)
    account_services.user_update(
        user=user,
        display_name=request.POST.get("display_name", user.display_name),
        time_zone=_picked_zone(request.POST.get("timezone", user.timezone)),
    )
    return render(request, "web/_saved.html", {"message": "Profile saved."})


_ZONES_BY_LOWER = {zone.lower(): zone for zone in _TIMEZONES}


def _picked_zone(value: str) -> str:
    """The zone typed into the searchable picker, spelt as zoneinfo spells it ("europe/athens"
    works too); anything else is a form error, never a 500."""
    zone = _ZONES_BY_LOWER.get(value.strip().replace(" ", "_").lower())
    if zone is None:
        message = "Unknown time zone: choose one from the list, for example Europe/Athens."
        raise Invalid(message, code="invalid", fields={"timezone": [message]})
    return zone


@login_required
@require_POST
def settings_audio(request: HttpRequest) -> HttpResponse:
    language = request.POST.get("transcription_language", "")
    if language not in dict(LANGUAGES):
        raise Invalid("Choose a language from the list.", code="invalid_language")
    # A hidden "0" comes before the checkbox's "1": the last value wins, and a form without the field changes nothing.
    save_on_stop = request.POST.getlist("save_on_stop")
    note_services.note_settings_update(
        user=web_user(request),
        keep_audio=request.POST.get("keep_audio") != "0",
        transcription_language=language,
        save_on_stop=save_on_stop[-1] == "1" if save_on_stop else None,
    )
    return render(request, "web/_saved.html", {"message": "Audio settings saved."})


@login_required
@require_POST
def account_export(request: HttpRequest) -> FileResponse:
    archive = account_services.account_export(user=web_user(request))
    return FileResponse(archive, as_attachment=True, filename="mindpost-export.zip", content_type="application/zip")


@login_required
@require_POST
def account_delete(request: HttpRequest) -> HttpResponse:
    user = web_user(request)
    # A second factor of intent: the password, so a borrowed unlocked laptop cannot do it.
    if not user.check_password(request.POST.get("password", "")):
        raise Invalid("That password is not right. Your account was not deleted.", code="invalid_password")
    account_services.account_delete(user=user)
    logout(request)
    # Its own address: the browser leaves /settings/ (a page the user no longer has) for good.
    return navigate(request, reverse("web:goodbye"))


def goodbye(request: HttpRequest) -> HttpResponse:
    """Where deleting the account ends (public: the user is signed out by then)."""
    return render(request, "web/goodbye.html")
