"""Schemathesis over the whole OpenAPI schema, against the real app over real HTTP.

The ASGI app runs under uvicorn on 127.0.0.1 against the test database. Every operation of
/api/schema/ is fuzzed (valid and invalid inputs) as a signed-in, verified user who owns a
note, a post and a conversation, so item endpoints have something real to hit. Checks: no
5xx server error, every status documented, the documented content type, and the body
matching the documented schema (the `Error` component for every error).

Bounded and reproducible: a fixed seed, derandomised generation, MAX_EXAMPLES per operation.
External services are loopback fakes: the OpenAI-compatible fake for transcription,
embeddings and chat; the X and LinkedIn fakes for connections; the Stripe fake for billing.
Throttles are raised so that the fuzzer measures the API, not the rate limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from rest_framework.throttling import SimpleRateThrottle
from schemathesis.config import SchemathesisConfig

from mindpost.accounts.models import User
from mindpost.billing.models import Plan
from mindpost.billing.plans_seed import SEED_PLANS
from mindpost.chat import services as chat_services
from mindpost.posts import instances
from mindpost.posts import services as post_services
from tests.chat.helpers import GREECE, OSAKA, make_note
from tests.conftest import PASSWORD
from tests.fakes.bluesky_server import FakeBluesky
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.stripe_server import FakeStripe
from tests.fakes.x_server import FakeX

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 20261130
MAX_EXAMPLES = 10
STRIPE_KEY = "sk_test_schemathesis_fake"
EMAIL = "fuzz@example.com"

# Nothing is excluded: account deletion needs the current password, which the fuzzer never
# guesses, so the signed-in user survives the run (a wrong password is the documented 403).
CONFIG: dict[str, Any] = {
    "seed": SEED,
    "max-failures": 50,
    "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none", "mode": "all"},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": False}, "fuzzing": {"enabled": True}},
    "checks": {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "response_headers_conformance": {"enabled": True},
    },
    "request-timeout": 30,
    "max-redirects": 0,
}


@pytest.fixture
def high_rate_limits(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    # DRF copies DEFAULT_THROTTLE_RATES onto SimpleRateThrottle when it is imported, so a
    # settings override alone does not reach the throttles: replace the class attribute too.
    rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def _no_dns(*args: Any, **kwargs: Any) -> Any:
    raise OSError("no DNS in tests")


@pytest.fixture
def external_fakes(
    settings: Any, tmp_path: Any, openai_backends: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Every external service the API can reach, as a loopback fake."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }
    x = FakeX().start()
    settings.X_CLIENT_ID, settings.X_CLIENT_SECRET = x.client_id, x.client_secret
    settings.X_API_BASE_URL = x.base_url
    settings.X_AUTHORIZE_URL = f"{x.base_url}/i/oauth2/authorize"
    linkedin = FakeLinkedIn().start()
    settings.LINKEDIN_CLIENT_ID, settings.LINKEDIN_CLIENT_SECRET = linkedin.client_id, linkedin.client_secret
    settings.LINKEDIN_API_BASE_URL = linkedin.base_url
    settings.LINKEDIN_AUTHORIZE_URL = f"{linkedin.base_url}/oauth/v2/authorization"
    settings.LINKEDIN_TOKEN_URL = f"{linkedin.base_url}/oauth/v2/accessToken"
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 2.0
    # Bluesky's default service is a fake; fuzzed Mastodon/Bluesky server URLs must never be
    # looked up or called: every host name "does not resolve", IP literals and http are refused.
    bluesky = FakeBluesky().start()
    settings.BLUESKY_SERVICE_URL = bluesky.base_url
    settings.POSTS_ALLOW_PRIVATE_INSTANCES = False
    monkeypatch.setattr(instances, "resolve", _no_dns)
    stripe = FakeStripe(secret_key=STRIPE_KEY, prices={"price_basic", "price_pro"}).start()
    settings.STRIPE_SECRET_KEY = STRIPE_KEY
    settings.STRIPE_WEBHOOK_SECRET = "whsec_schemathesis"
    settings.STRIPE_API_BASE = stripe.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 5
    settings.STRIPE_PRICES = {"basic": "price_basic", "pro": "price_pro"}
    yield
    x.stop()
    linkedin.stop()
    stripe.stop()
    bluesky.stop()


@pytest.fixture
def owned_ids(make_user: Callable[..., User], external_fakes: None) -> dict[str, list[str]]:
    """The fuzzing user and what they own, by dictionary name (ids the fuzzer may pick)."""
    for values in SEED_PLANS:  # transactional tests flush the seed migration's rows
        values = dict(values)
        Plan.objects.get_or_create(code=values.pop("code"), defaults=values)
    user = make_user(EMAIL)

    def post() -> str:
        return str(
            post_services.post_create(
                user=user, changes=post_services.PostChanges.of(content="A draft about boats in Nafplio.")
            ).pk
        )

    return {
        "notes": [str(make_note(user, GREECE).pk), str(make_note(user, OSAKA).pk)],
        "notes-to-delete": [str(make_note(user, "Buy milk and eggs.").pk)],
        "posts": [post(), post()],
        "posts-to-delete": [post()],
        "conversations": [str(chat_services.conversation_create(user=user, title="Travel").pk)],
    }


def _with_ids(path: str, parameter: str, dictionary: str, *, method: str | None = None) -> dict[str, Any]:
    """Point `parameter` of the operations under `path` at real ids most of the time
    (the rest stay random, so unknown ids are still tried). DELETE gets ids of its own."""
    entry: dict[str, Any] = {
        "include-path-regex": path,
        "parameters": {f"path.{parameter}": {"dictionary": dictionary, "probability": 0.7}},
    }
    if method:
        entry["include-method"] = method
    return entry


ID_BINDINGS = [
    _with_ids(r"^/api/brain-dumps/\{id\}/$", "id", "notes-to-delete", method="DELETE"),
    _with_ids(r"^/api/brain-dumps/\{id\}/", "id", "notes"),
    _with_ids(r"^/api/posts/\{id\}/$", "id", "posts-to-delete", method="DELETE"),
    _with_ids(r"^/api/posts/\{id\}/", "id", "posts"),
    _with_ids(r"^/api/chat/conversations/\{conversation_id\}/$", "conversation_id", "conversations", method="GET"),
    _with_ids(r"^/api/chat/conversations/\{conversation_id\}/messages/", "conversation_id", "conversations"),
]


@pytest.fixture
def api_schema(live_server_url: str, owned_ids: dict[str, list[str]], high_rate_limits: None) -> Any:
    tokens = httpx.post(f"{live_server_url}/api/token/", json={"email": EMAIL, "password": PASSWORD}, timeout=30)
    assert tokens.status_code == 200, tokens.text
    config = SchemathesisConfig.from_dict(
        {
            **CONFIG,
            "base-url": live_server_url,
            "headers": {"Authorization": f"Bearer {tokens.json()['access']}"},
            "dictionaries": {name: {"values": ids} for name, ids in owned_ids.items()},
            "operations": ID_BINDINGS,
        }
    )
    return schemathesis.openapi.from_url(f"{live_server_url}/api/schema/?format=json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _pytest9_node_id(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32.5 relabels subtests through `node._nodeid`, which pytest 9 replaced by
    # a structured id: give it the attribute it reads (reports still name each operation).
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
def test_api_conforms_to_its_schema(case: Any) -> None:
    case.call_and_validate()


def test_stateful_links(api_schema: Any) -> None:
    """Create → read, edit, retry, message, delete the created object, following the schema's
    OpenAPI links (mindpost.core.schema.LINKS) with the same checks as above."""
    machine = api_schema.as_state_machine()
    machine.run(
        settings=hypothesis.settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.generate],
        )
    )
