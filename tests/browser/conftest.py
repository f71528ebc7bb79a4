"""Browser tests: Debian's Chromium driven by Playwright against the real stack.

The stack is what `make run` starts (uvicorn serving the ASGI app, a Procrastinate worker),
as subprocesses pointed at pytest-django's test database, so every page, upload, job and
stream goes through real HTTP and a real worker. Mail goes to files, which is how the tests
read verification links.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from mindpost.core.management.commands.runstack import web_command

# Playwright's sync API runs an event loop in this thread; Django's ORM would refuse to run.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


def missing_tools() -> list[str]:
    """What the browser tests need and this machine lacks (`make browser` installs them)."""
    missing = [] if CHROMIUM.exists() else [str(CHROMIUM)]
    return missing + [tool for tool in ("espeak-ng", "sox") if not shutil.which(tool)]


def require_browser_tools() -> None:
    """Skip without Chromium, espeak-ng or sox on a developer's machine; fail in CI (CI=true),
    where a browser suite that quietly skipped would pass for one that ran."""
    missing = missing_tools()
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed: run `make browser` (apt-get install chromium espeak-ng sox)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}. CI=true: the browser tests must run, not skip.", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath) and "stack" in getattr(item, "fixturenames", ()):
            # pytest-django creates the test database only for items that use it; the stack does.
            # Transactional: what a test's fixtures create (users, notes, posts) is committed, so the
            # stack's processes see it, and the database is emptied after each test, so that no
            # test depends on what another left behind.
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture(autouse=True)
def _clean_state() -> None:
    """Replaces the suite's autouse fixture here: the browser tests' state lives in the stack's
    processes and in the database, which is emptied after each test."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"server did not listen on {port}:\n{log.read_text()[-4000:]}")


@dataclass
class Stack:
    url: str
    var_dir: Path
    env: dict[str, str]
    logs: dict[str, Path] = field(default_factory=dict)

    def mail(self) -> list[str]:
        folder = self.var_dir / "mail"
        if not folder.exists():
            return []
        return [path.read_text() for path in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime)]

    def last_link(self, *, to: str, pattern: str) -> str:
        """The newest link matching `pattern` in mail sent to `to` (waits for the mail to arrive)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for message in reversed(self.mail()):
                if to in message:
                    # Quoted-printable soft breaks would cut long links.
                    body = message.replace("=\n", "")
                    found = re.findall(r"https?://\S*" + pattern + r"\S*", body)
                    if found:
                        return found[-1].replace(self.env["SITE_URL"], self.url)
            time.sleep(0.3)
        raise AssertionError(f"no mail to {to} with a link matching {pattern!r}")

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return self.logs[name].read_text()[-chars:] if name in self.logs else ""


@dataclass
class Fakes:
    openai: Any
    x: Any
    x_user: Any


def _chat_reply(request: dict[str, Any]) -> str:
    """Post generation gets JSON drafts; chat gets an answer made of the notes' own words."""
    texts = " ".join(str(message.get("content", "")) for message in request.get("messages", []))
    if request.get("response_format") or '"posts"' in texts:
        posts = [
            {"post_text": f"Draft {n}: fresh tomatoes and basil for a pasta dinner with friends.", "topics": ["food"]}
            for n in (1, 2, 3)
        ]
        return json.dumps({"posts": posts})
    sentences = re.findall(r"[^.\n\]\[]*(?:tomato|basil|pasta|lighthouse)[^.\n\[]*", texts, flags=re.IGNORECASE)
    # Words of the passages, not of the question (which repeats them).
    sentences = [s.strip() for s in sentences if "?" not in s and not s.strip().lower().startswith("question")]
    if sentences:
        return "From your note: " + sentences[0] + "."
    return "I don't know."


@pytest.fixture(scope="session")
def fakes() -> Iterator[Fakes]:
    """Loopback fakes: the OpenAI-compatible chat model and X (OAuth 2.0 + API v2)."""
    from tests.fakes.openai_server import FakeOpenAI
    from tests.fakes.x_server import FakeX

    openai = FakeOpenAI().start()
    openai.chat_reply = _chat_reply
    x = FakeX(client_id="x-client", client_secret="x-secret").start()
    x_user = x.add_user("ada_l", name="Ada Lovelace")
    yield Fakes(openai=openai, x=x, x_user=x_user)
    openai.stop()
    x.stop()


@pytest.fixture(scope="session")
def stack_env_extra(fakes: Fakes) -> dict[str, str]:
    """Speech and search run on the real local models; the chat model and X are loopback fakes."""
    return {
        "TRANSCRIBE_BACKEND": "local",
        "EMBED_BACKEND": "local",
        "CHAT_BACKEND": "openai",
        "OPENAI_BASE_URL": fakes.openai.url,
        "OPENAI_API_KEY": fakes.openai.api_key,
        "CHAT_MODEL": "gpt-4o-mini",
        "AI_MAX_RETRIES": "0",
        "X_CLIENT_ID": fakes.x.client_id,
        "X_CLIENT_SECRET": fakes.x.client_secret,
        "X_API_BASE_URL": fakes.x.base_url,
        "X_AUTHORIZE_URL": f"{fakes.x.base_url}/i/oauth2/authorize",
        "POSTS_HTTP_TIMEOUT_SECONDS": "5",
    }


@pytest.fixture(scope="session")
def stack(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory, stack_env_extra: Any
) -> Iterator[Stack]:
    from django.db import connection

    with django_db_blocker.unblock():
        db = dict(connection.settings_dict)
    # Never the development database: always the test database pytest-django created.
    db["NAME"] = connection.creation._get_test_db_name()  # type: ignore[attr-defined]
    assert db["NAME"].startswith("test_"), db["NAME"]
    var_dir = tmp_path_factory.mktemp("stack") / "var"
    var_dir.mkdir()
    port = _free_port()
    user = quote(db.get("USER") or "postgres")
    password = (":" + quote(db["PASSWORD"])) if db.get("PASSWORD") else ""
    host = str(db.get("HOST") or "localhost")
    port_part = f":{db['PORT']}" if db.get("PORT") else ""
    # django-environ keeps a %-encoded host as is: pass a socket directory as ?host= instead.
    socket_query = f"?host={quote(host)}" if host.startswith("/") else ""
    host = "" if socket_query else host
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{user}{password}@{host}{port_part}/{db['NAME']}{socket_query}",
        "MINDPOST_VAR_DIR": str(var_dir),
        "EMAIL_BACKEND": "file",
        "PORT": str(port),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "true",
        # The suite's own DB cache would otherwise throttle many sign-ins from one IP.
        "AXES_FAILURE_LIMIT": "50",
        **stack_env_extra,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    python = sys.executable
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    commands = {
        "web": web_command(python=python, host="127.0.0.1", port=port, workers=1),
        "worker": [python, "manage.py", "procrastinate", "worker", "--concurrency", "4"],
    }
    # Hashed, compressed static files, as `make run` serves them (into this stack's own var dir).
    subprocess.run([python, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    try:
        for name, command in commands.items():
            logs[name] = var_dir.parent / f"{name}.log"
            handle = logs[name].open("wb")
            procs[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        _wait_for_port(port, procs["web"], logs["web"])
        yield Stack(url=f"http://127.0.0.1:{port}", var_dir=var_dir, env=env, logs=logs)
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Connections left by the stack would block dropping the test database.
        # pg_terminate_backend only signals: wait until the sessions are gone.
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            for _ in range(50):
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    [db["NAME"]],
                )
                if cursor.fetchone()[0] == 0:
                    break
                time.sleep(0.1)
        connection.close()


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 kHz mono speech for Chromium's fake microphone: espeak-ng's voice, padded with silence."""
    require_browser_tools()
    folder = tmp_path_factory.mktemp("speech")
    raw = folder / "raw.wav"
    out = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(raw), SPEECH_TEXT], check=True)
    subprocess.run(["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(out), "pad", "0.3", "3"], check=True)
    return out


SPEECH_TEXT = (
    "Remember to buy fresh tomatoes and basil for the pasta dinner with Sarah on Friday. "
    "The lighthouse restoration needs a bigger budget."
)


@pytest.fixture(scope="session")
def browser(django_db_setup: Any, speech_wav: Path) -> Iterator[Any]:
    # After django_db_setup: Playwright's event loop must not exist while the test database is made.
    require_browser_tools()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={speech_wav}"],
        )
        yield browser
        browser.close()


@dataclass
class Tab:
    """A browser tab that fails the test on console errors, CSP violations or failed requests."""

    page: Any
    stack: Stack
    user: Any = None  # who is signed in, when a fixture signed someone in
    problems: list[str] = field(default_factory=list)
    expected_errors: set[str] = field(default_factory=set)

    def expect_error(self, path: str) -> None:
        """A path the test opens knowing it answers 5xx (the 500 page itself)."""
        self.expected_errors.add(self.stack.url + path)

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.stack.url + path)
        self.page.wait_for_load_state("load")
        return response

    def wait_until(self, script: str, *, timeout: float = 30) -> Any:
        """Poll a JavaScript function until it returns something truthy. (page.wait_for_function
        compiles its predicate with eval, which the CSP rightly forbids.)"""
        deadline = time.monotonic() + timeout
        while True:
            value = self.page.evaluate(script)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {script}")
            self.page.wait_for_timeout(200)

    def assert_clean(self) -> None:
        problems, self.problems[:] = list(self.problems), []
        assert not problems, "browser reported problems:\n" + "\n".join(problems)

    def audit(self, name: str, *, full_page: bool = False) -> None:
        """axe-core (no serious/critical violations) + screenshots at desktop and phone width."""
        assert_axe_clean(self, name)
        self.screenshot(name, full_page=full_page)
        self.assert_clean()

    def screenshot(self, name: str, *, full_page: bool = False) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page = self.page
        original = page.viewport_size
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.wait_for_timeout(150)  # let layout settle after the resize
            path = SCREENSHOTS / f"{name}-{label}.png"
            # Phone shots show one screen: the fixed bottom bar would float mid-page in a full-page shot.
            whole = full_page and label == "desktop"
            page.screenshot(path=str(path), full_page=whole, animations="disabled", caret="hide")
            _shrink_png(path)
        page.set_viewport_size(original)


def _shrink_png(path: Path) -> None:
    """Screenshots are committed: quantise to 256 colours to keep them small."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)


@pytest.fixture
def new_tab(browser: Any, stack: Stack) -> Iterator[Callable[..., Tab]]:
    """`new_tab()`: a tab in a fresh browser profile (cookies, storage), closed after the test."""
    contexts: list[Any] = []

    def make(*, timezone_id: str = "Europe/Athens") -> Tab:
        context = browser.new_context(
            viewport=DESKTOP,
            timezone_id=timezone_id,
            locale="en-US",
            permissions=["microphone"],
            accept_downloads=True,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        tab = Tab(page=page, stack=stack)

        def on_console(message: Any) -> None:
            # Error pages a test opens on purpose (404, 403) are checked by the test itself.
            expected = "Failed to load resource: the server responded with a status of 4"
            if tab.expected_errors:
                expected = "Failed to load resource: the server responded with a status of "
            if message.type == "error" and expected not in message.text:
                tab.problems.append(f"console error: {message.text}")

        def on_response(response: Any) -> None:
            # 4xx pages a test asks for on purpose are checked by the test itself.
            if response.status >= 500 and response.url not in tab.expected_errors:
                tab.problems.append(f"HTTP {response.status} {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
        page.on("response", on_response)
        return tab

    yield make
    for context in contexts:
        context.close()


# --- what a test starts from: people, signed-in tabs, notes, posts, conversations -------------------
# Made with the suite's factories (tests/factories.py) in the test process and committed (the tests
# are transactional), so the stack serves them like anything a user made.


def sign_in(tab: Tab, user: Any) -> Tab:
    """Sign `user` in on `tab` with a session cookie (the sign-in form has its own tests)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    tab.page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": tab.stack.url}])
    tab.user = user
    return tab


@pytest.fixture
def signed_in_tab(new_tab: Callable[..., Tab]) -> Callable[..., Tab]:
    """`signed_in_tab(email_or_user)`: that user (made by the factories for an email) signed in on a new tab."""
    from tests.factories import UserFactory

    def make(who: Any) -> Tab:
        return sign_in(new_tab(), UserFactory.create(email=who) if isinstance(who, str) else who)

    return make


@pytest.fixture
def alice(signed_in_tab: Callable[..., Tab]) -> Tab:
    return signed_in_tab("alice@example.com")


@pytest.fixture
def alice_note(alice: Tab, settings: Any) -> Any:
    """A ready note of Alice's with the words of the recorded speech, indexed with the real local
    embedder (the stack's own), as the worker would have left it."""
    from tests.factories import IndexedNoteFactory

    settings.EMBED_BACKEND = "local"
    return IndexedNoteFactory.create(user=alice.user, text=SPEECH_TEXT)


# --- layout checks any test can reuse (issue 15) -----------------------------------------------------

OVERFLOW_SCRIPT = """(width) => {
    const wide = [];
    for (const el of document.body.querySelectorAll("*")) {
        const box = el.getBoundingClientRect();
        if (box.width && box.right > width + 1 && getComputedStyle(el).position !== "fixed") {
            const names = typeof el.className === "string" ? el.className.trim().split(/\\s+/) : [];
            const classes = names.slice(0, 4).join(".");
            wide.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (classes ? "." + classes : "")
                      + " right=" + Math.round(box.right));
        }
    }
    return {scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 8)};
}"""


def horizontal_overflow(tab: Tab, *, width: int = PHONE["width"]) -> dict[str, Any]:
    """The page laid out `width` px wide: the document's scrollWidth and the first elements that stick out."""
    page = tab.page
    original = page.viewport_size
    page.set_viewport_size({"width": width, "height": PHONE["height"]})
    page.wait_for_timeout(150)  # let layout settle after the resize
    try:
        return dict(page.evaluate(OVERFLOW_SCRIPT, width))
    finally:
        page.set_viewport_size(original)


def assert_fits_phone(tab: Tab, *, width: int = PHONE["width"]) -> None:
    """No sideways scrolling on a phone: document.documentElement.scrollWidth <= `width`."""
    found = horizontal_overflow(tab, width=width)
    assert found["scrollWidth"] <= width, (
        f"{tab.page.url} is {found['scrollWidth']} px wide at {width} px; sticking out: {found['wide']}"
    )


def console_errors(tab: Tab) -> list[str]:
    """Every console error and page error from now on, with nothing filtered out (unlike Tab's own
    check, which lets 4xx network messages pass): the list fills as the page runs."""
    seen: list[str] = []
    tab.page.on("console", lambda message: seen.append(message.text) if message.type == "error" else None)
    tab.page.on("pageerror", lambda error: seen.append(f"page error: {error}"))
    return seen


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical axe-core violations of the page as it is now."""
    if not page.evaluate("() => !!window.axe"):
        page.evaluate(AXE.read_text() + "\n;0")
    return list(
        page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                  .map(v => ({id: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
            }"""
        )
    )


def assert_axe_clean(tab: Tab, name: str) -> None:
    violations = axe_violations(tab.page)
    assert not violations, f"axe violations on {name}:\n" + json.dumps(violations, indent=2)
