"""The installable app in Chromium (issue 12, item 3): a valid manifest whose icons have their
stated sizes, a service worker that registers and makes the app installable, a recording made
offline that waits on the device and uploads when the connection is back, and the share target
turning a shared audio file into a note (also for someone who has to sign in first)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.browser.conftest import PHONE, SCREENSHOTS, Tab, _shrink_png, assert_axe_clean

NOTE_URL = re.compile(r".*/notes/[0-9a-f-]{36}/$")


def worker_ready(tab: Tab) -> str:
    """Wait for the service worker to be active and to control the page; its scope."""
    scope = str(tab.page.evaluate("() => navigator.serviceWorker.ready.then(r => r.active && r.scope)"))
    if not tab.page.evaluate("() => !!navigator.serviceWorker.controller"):
        tab.page.reload()  # clients.claim() may race the first load: a reload is always controlled
    tab.wait_until("() => !!navigator.serviceWorker.controller")
    return scope


def queued(tab: Tab) -> list[dict[str, Any]]:
    return list(
        tab.page.evaluate(
            "() => window.mpUploadQueue.all().then(items => items.map(i => ({owner: i.owner, shared: !!i.shared})))"
        )
    )


def queue_size(tab: Tab) -> int:
    """The recorder's IndexedDB queue, read directly (pages without record.js have no mpUploadQueue)."""
    return int(
        tab.page.evaluate(
            """() => new Promise((ok, no) => { const r = indexedDB.open('mindpost', 1);
                r.onupgradeneeded = () => r.result.createObjectStore('uploads', {keyPath: 'id'});
                r.onsuccess = () => { const q = r.result.transaction('uploads').objectStore('uploads').count();
                                      q.onsuccess = () => ok(q.result); q.onerror = no; };
                r.onerror = no; })"""
        )
    )


def notes_of(user: Any) -> list[Any]:
    from mindpost.notes.models import Note

    return list(Note.objects.filter(user=user))


def share_file(tab: Tab, wav: Path) -> None:
    """What the OS does with a share: a multipart POST navigation to the manifest's share_target."""
    page = tab.page
    target = page.evaluate("() => fetch('/manifest.webmanifest').then(r => r.json()).then(m => m.share_target)")
    page.evaluate(
        """(t) => {
            const form = document.createElement('form');
            form.method = t.method; form.action = t.action; form.enctype = t.enctype; form.id = 'os-share';
            const input = document.createElement('input');
            input.type = 'file'; input.name = t.params.files[0].name; input.id = 'os-share-file';
            form.appendChild(input); document.body.appendChild(form);
        }""",
        target,
    )
    page.set_input_files("#os-share-file", str(wav))
    page.evaluate("() => document.getElementById('os-share').submit()")


def test_the_manifest_is_valid_and_the_worker_makes_the_app_installable(alice: Tab) -> None:
    page = alice.page
    alice.goto("/record/")
    assert worker_ready(alice) == alice.stack.url + "/"

    manifest = page.evaluate("() => fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())")
    for member in ("name", "short_name", "start_url", "display", "icons", "theme_color", "background_color"):
        assert manifest.get(member), member
    assert manifest["name"] == "MindPost"
    assert manifest["display"] == "standalone"
    # Every icon loads and is the size it claims; there is a maskable one for Android's shapes.
    for icon in manifest["icons"]:
        size = page.evaluate(
            "(src) => new Promise((ok, no) => { const i = new Image();"
            " i.onload = () => ok(i.naturalWidth + 'x' + i.naturalHeight); i.onerror = no; i.src = src; })",
            icon["src"],
        )
        assert size == icon["sizes"], icon
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}
    assert any(icon["purpose"] == "maskable" for icon in manifest["icons"])

    # Chromium's own reading of the manifest: no parse errors, and nothing stands in the way of installing.
    cdp = page.context.new_cdp_session(page)
    parsed = cdp.send("Page.getAppManifest")
    assert parsed["errors"] == [], parsed["errors"]
    installability = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's contexts are incognito-like; that is about the test browser, not the app.
    blocking = [e["errorId"] for e in installability if e["errorId"] not in ("in-incognito",)]
    assert blocking == [], installability

    # The shell is cached, and nothing signed-in is: only static files and the offline page.
    cached = page.evaluate(
        "() => caches.keys().then(names => Promise.all(names.map(n => caches.open(n).then(c => c.keys()))))"
        ".then(lists => lists.flat().map(r => new URL(r.url).pathname))"
    )
    assert "/offline/" in cached
    assert any(path.startswith("/static/web/record.") for path in cached), cached
    assert all(path.startswith("/static/") or path == "/offline/" for path in cached), cached
    alice.assert_clean()


def test_a_recording_made_offline_is_kept_and_uploaded_when_back_online(alice: Tab) -> None:
    page = alice.page
    alice.goto("/record/")
    worker_ready(alice)
    page.context.set_offline(True)
    try:
        page.locator("#record-button").click()
        alice.wait_until("() => document.querySelector('.tabular-nums span').textContent >= '0:03'", timeout=20)
        page.locator("#record-button").click()
        page.get_by_role("button", name="Save note").click()
        page.get_by_text("Saved offline", exact=False).first.wait_for()
        assert not page.locator("[role=alert]:visible").count(), "offline is a status, not an error"
        assert queued(alice) == [{"owner": str(alice.user.pk), "shared": False}]

        # Another page of the app, opened offline: the worker's offline page, with its own recorder,
        # which knows about the recording waiting on the device.
        alice.goto("/notes/")
        page.get_by_role("heading", name="You are offline").wait_for()
        page.get_by_text("Saved offline: 1 recording is saved on this device", exact=False).wait_for()
        assert page.locator("#record-button").is_enabled()
        assert not page.get_by_text(alice.user.email).count()  # the cached page is nobody's
        assert_axe_clean(alice, "offline")
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(150)
        shot = SCREENSHOTS / "pwa-offline.png"
        page.screenshot(path=str(shot), animations="disabled", caret="hide")
        _shrink_png(shot)
        assert notes_of(alice.user) == []
        alice.problems.clear()  # the failed requests are the point of this test
    finally:
        page.context.set_offline(False)

    # Back online: the offline page hands over to the record page, which uploads the recording.
    page.wait_for_url(re.compile(r".*/record/$"), timeout=30_000)
    page.locator("#saved-note-link").wait_for(timeout=30_000)
    alice.wait_until("() => window.mpUploadQueue.all().then(items => items.length === 0)")
    assert len(notes_of(alice.user)) == 1
    assert not page.get_by_text("Saved offline", exact=False).is_visible()


def test_a_recording_queued_for_someone_else_is_not_uploaded_into_this_account(alice: Tab) -> None:
    """A shared device: what Bob left in the queue is not Alice's to upload."""
    page = alice.page
    alice.goto("/record/")
    page.evaluate(
        "() => window.mpUploadQueue.put({id: 'bobs', blob: new Blob(['x'], {type: 'audio/webm'}), name: 'b.webm',"
        " createdAt: Date.now(), seconds: 1, owner: 'someone-else'})"
    )
    page.evaluate("() => window.mpRecorder.retryQueued()")
    page.wait_for_timeout(1500)
    assert len(queued(alice)) == 1
    assert notes_of(alice.user) == []
    assert not page.get_by_text("Saved offline", exact=False).is_visible()  # not hers to show either
    alice.assert_clean()


def test_a_shared_audio_file_becomes_a_note(alice: Tab, speech_wav: Path) -> None:
    page = alice.page
    alice.goto("/record/")
    worker_ready(alice)
    with page.expect_request(lambda r: r.url.endswith("/share/") and r.method == "POST"):
        share_file(alice, speech_wav)
    page.wait_for_url(NOTE_URL, timeout=30_000)
    notes = notes_of(alice.user)
    assert len(notes) == 1
    assert page.url.endswith(f"/notes/{notes[0].pk}/")
    assert notes[0].kind == "voice"
    assert queue_size(alice) == 0
    alice.assert_clean()


def test_a_signed_out_share_goes_through_sign_in_and_back(new_tab: Any, speech_wav: Path) -> None:
    from tests.factories import PASSWORD, UserFactory

    user = UserFactory.create(email="sharer@example.com")
    tab = new_tab()
    page = tab.page
    tab.goto("/")
    worker_ready(tab)
    share_file(tab, speech_wav)
    page.wait_for_url(re.compile(r".*/accounts/login/\?next=/share/.*"))
    assert notes_of(user) == []
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(NOTE_URL, timeout=30_000)
    assert len(notes_of(user)) == 1
    assert queue_size(tab) == 0
    tab.assert_clean()
