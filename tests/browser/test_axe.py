"""axe-core on every page of the web app, at 1366x900 and 390x844 (issue 15): no serious or
critical violation, and no sideways scrolling on a phone.

Every page is checked at both sizes and every problem is collected before the test fails, so one
run lists all of them (axe_violations lives in conftest). `overflowing` and `shoot` are used by the other browser
tests too.
"""

from __future__ import annotations

import io
import json
import wave
from typing import Any

from tests.browser.conftest import SCREENSHOTS, _shrink_png, axe_violations

WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def overflowing(page: Any) -> dict[str, Any] | None:
    """None when the page fits the window's width; else its width and the widest culprits."""
    return page.evaluate(
        """() => {
            const width = window.innerWidth, doc = document.documentElement;
            if (doc.scrollWidth <= width) return null;
            const wide = [...document.body.querySelectorAll('*')]
              .filter(el => el.getBoundingClientRect().right > width + 1)
              .slice(0, 5)
              .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                         (typeof el.className === 'string' && el.className
                           ? '.' + el.className.split(' ').slice(0, 3).join('.') : ''));
            return {scrollWidth: doc.scrollWidth, width, wide};
        }"""
    )


def shoot(tab: Any, name: str) -> None:
    """docs/screenshots/<name>.png at 1366x900 and <name>-phone.png at 390x844 (one screen each)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = tab.page
    original = page.viewport_size
    for suffix, size in (("", WIDE), ("-phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)  # let layout settle after the resize
        path = SCREENSHOTS / f"{name}{suffix}.png"
        page.screenshot(path=str(path), animations="disabled", caret="hide")
        _shrink_png(path)
    page.set_viewport_size(original)


def _check_pages(tab: Any, paths: list[str]) -> list[str]:
    problems: list[str] = []
    page = tab.page
    for path in paths:
        for label, size in (("1366", WIDE), ("390", PHONE)):
            page.set_viewport_size(size)
            response = tab.goto(path)
            if response is None or response.status >= 400:
                problems.append(f"{path} @{label}: HTTP {response.status if response else '?'}")
                continue
            page.wait_for_timeout(100)  # Alpine initialises after load
            violations = axe_violations(page)
            if violations:
                problems.append(f"{path} @{label}: axe\n" + json.dumps(violations, indent=2))
            if size is PHONE and (wide := overflowing(page)):
                problems.append(f"{path} @{label}: horizontal overflow {wide}")
    tab.assert_clean()
    return problems


def _silence_wav() -> bytes:
    """One second of silence: the note page then has its audio player."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * 16000)
    return buffer.getvalue()


def test_signed_out_pages(new_tab: Any) -> None:
    from allauth.account.models import EmailAddress, get_emailconfirmation_model

    from tests.factories import UserFactory

    pending = UserFactory.create(email="pending@example.com", verified=False)
    address = EmailAddress.objects.get(user=pending)
    key = get_emailconfirmation_model().create(address).key
    paths = [
        "/",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/accounts/confirm-email/",  # "check your inbox", with "resend the email"
        f"/accounts/confirm-email/{key}/",  # the link in the mail
        "/accounts/confirm-email/expired-or-wrong/",
    ]
    problems = _check_pages(new_tab(), paths)
    assert not problems, "\n\n".join(problems)


def test_signed_in_pages(signed_in_tab: Any) -> None:
    from tests.factories import (
        ActionItemFactory,
        ConversationFactory,
        MessageFactory,
        NoteFactory,
        PostFactory,
        UserFactory,
        seed_plans,
    )

    seed_plans()
    user = UserFactory.create(email="axe@example.com")
    text = "Buy fresh tomatoes and basil for the pasta dinner with Sarah on Friday."
    note = NoteFactory.create(user=user, text=text, audio=_silence_wav())
    ActionItemFactory.create(note=note, text="Buy fresh tomatoes and basil")
    NoteFactory.create(user=user, text="The lighthouse restoration needs a bigger budget.")
    post = PostFactory.create(user=user, content="Tomatoes and basil tonight.", notes=[note])
    conversation = ConversationFactory.create(user=user, title="What do I need for the pasta dinner on Friday?")
    MessageFactory.create(conversation=conversation)
    paths = [
        "/record/",
        "/notes/",
        "/notes/?q=tomatoes",
        f"/notes/{note.pk}/",
        "/chat/",
        f"/chat/{conversation.pk}/",
        "/posts/compose/",
        "/posts/",
        f"/posts/{post.pk}/",
        "/settings/",
        "/subscriptions/upgrade/",
        "/todos/",
    ]
    problems = _check_pages(signed_in_tab(user), paths)
    assert not problems, "\n\n".join(problems)


def test_the_checks_catch_what_they_look_for(new_tab: Any) -> None:
    """A guard for the two checks above: an image without a text alternative and a too-wide
    block are reported (a check that could never fail would pass for one that works)."""
    tab = new_tab()
    page = tab.page
    page.set_viewport_size(PHONE)
    tab.goto("/")
    assert axe_violations(page) == []
    assert overflowing(page) is None
    page.evaluate(
        """() => {
            const img = document.createElement('img');
            img.src = '/static/web/favicon.svg';
            const wide = document.createElement('div');
            wide.style.width = '600px'; wide.style.height = '1px';
            document.querySelector('main').append(img, wide);
        }"""
    )
    assert "image-alt" in [v["id"] for v in axe_violations(page)]
    wide = overflowing(page)
    assert wide is not None
    assert wide["scrollWidth"] > 390
