"""A small Stripe API fake on 127.0.0.1 for the billing tests.

It speaks the wire protocol the official SDK uses (form-encoded POST bodies with bracketed
keys, Bearer auth, Idempotency-Key headers, Stripe's error envelope) and checks it: a wrong
key gets 401, a POST that is not form-encoded or has no Idempotency-Key gets 400, and a key
reused with a different body gets Stripe's idempotency_error. Reusing a key with the same
body replays the first answer, as Stripe does. Every request is recorded for assertions.

Covers: customers, Checkout Sessions (create, retrieve, expire), Billing Portal sessions,
subscriptions (retrieve, list, update, cancel). `complete_checkout()` plays the customer
paying: it turns an open session into a subscription.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MONTH = 30 * 24 * 3600


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, Any]
    form: dict[str, Any]
    headers: dict[str, str]


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`line_items[0][price]=x` -> {"line_items": [{"price": "x"}]} (Stripe's bracket encoding)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def lists(node: Any) -> Any:
        if isinstance(node, dict):
            converted = {k: lists(v) for k, v in node.items()}
            if converted and all(k.isdigit() for k in converted):
                return [converted[k] for k in sorted(converted, key=int)]
            return converted
        return node

    result: dict[str, Any] = lists(root)
    return result


class StripeError(Exception):
    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error", code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, "code": code}}


@dataclass
class FakeStripe:
    secret_key: str = "sk_test_fake"
    prices: set[str] = field(default_factory=lambda: {"price_basic", "price_pro"})
    requests: list[Recorded] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    portal_sessions: list[dict[str, Any]] = field(default_factory=list)
    # Path prefixes that answer with this HTTP status once (to test outages).
    failures: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._idempotency: dict[str, tuple[str, int, dict[str, Any]]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                status, body = fake.handle(method, self.path, dict(self.headers.items()), raw)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Request-Id", f"req_{next(fake._ids)}")
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeStripe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- helpers for tests -----------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def add_customer(self, *, email: str = "", metadata: dict[str, str] | None = None) -> dict[str, Any]:
        customer: dict[str, Any] = {
            "id": self.new_id("cus"),
            "object": "customer",
            "email": email,
            "metadata": metadata or {},
        }
        self.customers[customer["id"]] = customer
        return customer

    def add_subscription(
        self,
        *,
        customer: str,
        price: str,
        status: str = "active",
        metadata: dict[str, str] | None = None,
        trial_days: int | None = None,
    ) -> dict[str, Any]:
        now = int(time.time())
        subscription: dict[str, Any] = {
            "id": self.new_id("sub"),
            "object": "subscription",
            "customer": customer,
            "status": status,
            "created": now,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "trial_end": now + trial_days * 86400 if trial_days else None,
            "metadata": metadata or {},
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": self.new_id("si"),
                        "object": "subscription_item",
                        "price": {"id": price, "object": "price"},
                        "quantity": 1,
                        "current_period_start": now,
                        "current_period_end": now + MONTH,
                    }
                ],
            },
        }
        self.subscriptions[subscription["id"]] = subscription
        return subscription

    def complete_checkout(self, session_id: str, *, status: str | None = None) -> dict[str, Any]:
        """The customer pays: the open session becomes complete and owns a new subscription."""
        session = self.sessions[session_id]
        assert session["status"] == "open", session["status"]
        trial_days = session.get("_trial_days")
        subscription = self.add_subscription(
            customer=session["customer"],
            price=session["_price"],
            status=status or ("trialing" if trial_days else "active"),
            metadata=session.get("_subscription_metadata") or {},
            trial_days=trial_days,
        )
        session.update(status="complete", subscription=subscription["id"], payment_status="paid")
        return subscription

    # --- protocol ----------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw_body: str) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        path = parts.path
        form = decode_form(parse_qsl(raw_body, keep_blank_values=True)) if raw_body else {}
        query = decode_form(parse_qsl(parts.query, keep_blank_values=True))
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.requests.append(Recorded(method, path, query, form, lowered))
            try:
                self._check(method, lowered, raw_body)
                for prefix, status in list(self.failures.items()):
                    if path.startswith(prefix):
                        del self.failures[prefix]
                        raise StripeError(status, "Injected failure.", type_="api_error")
                key = lowered.get("idempotency-key", "")
                if method == "POST" and key in self._idempotency:
                    previous_body, status, answer = self._idempotency[key]
                    if previous_body != f"{path}?{raw_body}":
                        raise StripeError(
                            400,
                            "Keys for idempotent requests can only be used with the same parameters they were first "
                            "used with.",
                            type_="idempotency_error",
                        )
                    return status, answer
                answer = self._route(method, path, form, query)
                if method == "POST":
                    self._idempotency[key] = (f"{path}?{raw_body}", 200, answer)
                return 200, answer
            except StripeError as exc:
                return exc.status, exc.body

    def _check(self, method: str, headers: dict[str, str], raw_body: str) -> None:
        if headers.get("authorization") != f"Bearer {self.secret_key}":
            raise StripeError(401, "Invalid API Key provided.", code="api_key_invalid")
        if not headers.get("stripe-version"):
            raise StripeError(400, "Missing Stripe-Version header.")
        if method == "POST":
            if headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
                raise StripeError(400, "POST bodies must be form-encoded.")
            if not headers.get("idempotency-key"):
                raise StripeError(400, "This fake requires an Idempotency-Key on every POST.")
            if raw_body.lstrip().startswith("{"):
                raise StripeError(400, "JSON bodies are not accepted.")

    def _route(self, method: str, path: str, form: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
        routes: list[tuple[str, str, Any]] = [
            ("POST", r"/v1/customers", self._customer_create),
            ("DELETE", r"/v1/customers/(?P<id>[\w]+)", self._customer_delete),
            ("POST", r"/v1/checkout/sessions", self._session_create),
            ("GET", r"/v1/checkout/sessions/(?P<id>[\w]+)", self._session_get),
            ("POST", r"/v1/checkout/sessions/(?P<id>[\w]+)/expire", self._session_expire),
            ("POST", r"/v1/billing_portal/sessions", self._portal_create),
            ("GET", r"/v1/subscriptions", self._subscription_list),
            ("GET", r"/v1/subscriptions/(?P<id>[\w]+)", self._subscription_get),
            ("POST", r"/v1/subscriptions/(?P<id>[\w]+)", self._subscription_update),
            ("DELETE", r"/v1/subscriptions/(?P<id>[\w]+)", self._subscription_cancel),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return handler(form=form, query=query, **match.groupdict())
        raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")

    def _customer(self, customer_id: str) -> dict[str, Any]:
        if customer_id not in self.customers:
            raise StripeError(404, f"No such customer: '{customer_id}'", code="resource_missing")
        return self.customers[customer_id]

    def _customer_create(self, *, form: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
        return self.add_customer(email=form.get("email", ""), metadata=form.get("metadata"))

    def _customer_delete(self, *, form: dict[str, Any], query: dict[str, Any], id: str) -> dict[str, Any]:
        self._customer(id)
        del self.customers[id]
        for subscription in self.subscriptions.values():
            if subscription["customer"] == id and subscription["status"] != "canceled":
                subscription.update(status="canceled", canceled_at=int(time.time()))
        return {"id": id, "object": "customer", "deleted": True}

    def _session_create(self, *, form: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
        if form.get("mode") != "subscription":
            raise StripeError(400, "mode must be subscription for this fake.")
        self._customer(form.get("customer", ""))
        items = form.get("line_items") or []
        if len(items) != 1 or items[0].get("price") not in self.prices or items[0].get("quantity") != "1":
            raise StripeError(400, "No such price.", code="resource_missing")
        for name in ("success_url", "cancel_url"):
            if not form.get(name, "").startswith(("http://", "https://")):
                raise StripeError(400, f"Not a valid URL: {name}", code="url_invalid")
        subscription_data = form.get("subscription_data") or {}
        session_id = self.new_id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "subscription",
            "status": "open",
            "customer": form["customer"],
            "client_reference_id": form.get("client_reference_id"),
            "metadata": form.get("metadata") or {},
            "subscription": None,
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "_price": items[0]["price"],
            "_trial_days": int(subscription_data["trial_period_days"])
            if subscription_data.get("trial_period_days")
            else None,
            "_subscription_metadata": subscription_data.get("metadata") or {},
        }
        self.sessions[session_id] = session
        return self._public(session)

    def _session(self, session_id: str) -> dict[str, Any]:
        if session_id not in self.sessions:
            raise StripeError(404, f"No such checkout.session: '{session_id}'", code="resource_missing")
        return self.sessions[session_id]

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def _session_get(self, *, form: dict[str, Any], query: dict[str, Any], id: str) -> dict[str, Any]:
        return self._public(self._session(id))

    def _session_expire(self, *, form: dict[str, Any], query: dict[str, Any], id: str) -> dict[str, Any]:
        session = self._session(id)
        if session["status"] != "open":
            raise StripeError(400, f"Only Checkout Sessions with a status of open can be expired ({id}).")
        session["status"] = "expired"
        return self._public(session)

    def _portal_create(self, *, form: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
        self._customer(form.get("customer", ""))
        portal = {
            "id": self.new_id("bps"),
            "object": "billing_portal.session",
            "customer": form["customer"],
            "return_url": form.get("return_url"),
            "url": f"https://billing.stripe.test/p/session/{next(self._ids)}",
        }
        self.portal_sessions.append(portal)
        return portal

    def _subscription(self, subscription_id: str) -> dict[str, Any]:
        if subscription_id not in self.subscriptions:
            raise StripeError(404, f"No such subscription: '{subscription_id}'", code="resource_missing")
        return self.subscriptions[subscription_id]

    def _subscription_list(self, *, form: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
        rows = [
            self._public(s)
            for s in self.subscriptions.values()
            if s["customer"] == query.get("customer", s["customer"])
        ]
        return {"object": "list", "data": rows, "has_more": False, "url": "/v1/subscriptions"}

    def _subscription_get(self, *, form: dict[str, Any], query: dict[str, Any], id: str) -> dict[str, Any]:
        return self._public(self._subscription(id))

    def _subscription_update(self, *, form: dict[str, Any], query: dict[str, Any], id: str) -> dict[str, Any]:
        subscription = self._subscription(id)
        if subscription["status"] == "canceled":
            raise StripeError(400, "A canceled subscription can only update its metadata.")
        for change in form.get("items") or []:
            item = next((i for i in subscription["items"]["data"] if i["id"] == change.get("id")), None)
            if item is None:
                raise StripeError(400, "Invalid subscription item.", code="resource_missing")
            if change.get("price") not in self.prices:
                raise StripeError(400, "No such price.", code="resource_missing")
            item["price"] = {"id": change["price"], "object": "price"}
        if "proration_behavior" in form:
            subscription["_last_proration_behavior"] = form["proration_behavior"]
        if "cancel_at_period_end" in form:
            subscription["cancel_at_period_end"] = form["cancel_at_period_end"] == "true"
        return self._public(subscription)

    def _subscription_cancel(self, *, form: dict[str, Any], query: dict[str, Any], id: str) -> dict[str, Any]:
        subscription = self._subscription(id)
        if subscription["status"] == "canceled":
            raise StripeError(400, "This subscription is already canceled.", code="resource_missing")
        subscription.update(status="canceled", canceled_at=int(time.time()))
        return self._public(subscription)
