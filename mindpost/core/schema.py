"""OpenAPI documentation of the error responses, in one place rather than on every view.

`AutoSchema` (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) adds the `Error` component
(`{"code", "detail", "fields"}`, see mindpost.core.errors) to each operation for the statuses
its shape implies: 400 and 415 when it takes a body, 400 when it takes query or header
parameters, 401 when it authenticates, 404 when its path names an object (or it is a paginated
list), 429 when it is throttled, and 503 everywhere (overload, database down). Statuses that
come from domain rules (a quota, a conflict, a model that is down) are listed by operation id
in `OPERATION_ERRORS`. A status the view documents itself (for example chat's 503 that carries
the matched passages) is left as the view wrote it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.plumbing import ResolvedComponent

# The general codes, any endpoint: the table in docs/api.md ("Conventions"); a test keeps them equal.
# Domain codes (note_not_ready, model_unavailable, ...) are listed per section of docs/api.md.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid": (400, "a field failed validation; see `fields`"),
    "malformed_request": (400, "the body is not valid JSON / multipart, or its JSON nests deeper than 64 levels"),
    "invalid_text": (400, "a JSON string (value or key) is not valid Unicode (an unpaired surrogate)"),
    "password_invalid": (400, "the password fails the password rules; see `fields.password`"),
    "invalid_key": (400, "a verification or reset key is wrong, used or expired"),
    "not_authenticated": (401, "no (Bearer) token"),
    "token_not_valid": (401, "the token is expired, malformed, blacklisted or revoked"),
    "token_reused": (401, "a refresh token that was already rotated was presented again"),
    "no_active_account": (401, "wrong email or password, or the account is inactive"),
    "email_not_verified": (403, "sign-in before the email address is verified"),
    "wrong_password": (403, "the current password, asked again before a destructive action, is wrong"),
    "permission_denied": (403, "not allowed"),
    "not_found": (404, "unknown URL, or an object that does not exist or belongs to someone else"),
    "method_not_allowed": (405, "wrong HTTP method"),
    "unsupported_media_type": (415, "a content type the endpoint does not take"),
    "throttled": (429, "rate limit; `Retry-After` header and `retry_after` field"),
    "locked_out": (429, "too many failed sign-ins for this email from this IP"),
    "server_error": (500, "a bug; it is logged, and no internals are shown"),
    "overloaded": (503, "the server is at capacity; `Retry-After` header and `retry_after` field"),
    "database_unavailable": (503, "the database cannot be reached right now; `Retry-After` header"),
}

STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: `invalid` (see `fields`), `malformed_request`, or a domain code.",
    401: "Not signed in: `not_authenticated` or `token_not_valid`.",
    402: "Payment required.",
    403: "Not allowed: `permission_denied`, or a plan limit (`limit_reached`, `subscription_required`).",
    404: "`not_found`: no such object for you (or no such URL).",
    409: "The object's state does not allow this right now (a domain code says why).",
    413: "`file_too_large`: the upload is larger than the limit.",
    415: "`unsupported_media_type`: send one of the documented content types.",
    416: "The requested byte range is outside the file.",
    422: "Well-formed but unusable input (a domain code says why).",
    429: "`throttled` (or `locked_out`): wait `retry_after` seconds (also the `Retry-After` header).",
    502: "An upstream service (model, network, payment provider) refused or failed the request.",
    503: "Unavailable right now (`overloaded`, `database_unavailable`, or a service this needs is down): "
    "retry after `Retry-After` seconds.",
}

# Domain statuses by operation id (the services raise them as mindpost.core.errors.AppError subclasses).
OPERATION_ERRORS: dict[str, tuple[int, ...]] = {
    "account_delete_create": (403,),  # wrong_password
    "account_delete_destroy": (403,),
    "token_create": (401, 403),  # no_active_account, email_not_verified
    "token_refresh_create": (401,),
    "token_verify_create": (401,),
    "brain_dumps_create": (403, 413, 422),  # limit_reached, file_too_large, idempotency_key_reused/silent_audio
    "brain_dumps_update": (409,),  # note_not_ready
    "brain_dumps_partial_update": (409,),
    "brain_dumps_retry_create": (403, 409),  # limit_reached, note_not_failed/audio_unavailable
    "brain_dumps_recording_retrieve": (401, 403, 416),  # recording_link_expired
    "brain_dumps_chat_create": (403, 404, 503),  # limit_reached, not_found (conversation), model_unavailable
    # Conversation ids are parsed by the views: a malformed one is 400 invalid_conversation_id.
    "chat_conversations_retrieve": (400,),
    "chat_conversations_destroy": (400,),
    "chat_conversations_messages_create": (400, 403, 503),
    "search_retrieve": (503,),  # the embedder is down
    "posts_create": (403, 409, 413, 422, 502, 503),  # status=posted publishes at once
    "posts_update": (409, 413),  # post_read_only, publish_in_progress
    "posts_partial_update": (409, 413),
    "posts_destroy": (409,),
    "posts_images_destroy": (409,),
    "posts_publish_create": (400, 403, 409, 422, 502, 503),  # not_connected, content_required, ...
    "posts_generate_from_dumps_create": (403, 502, 503),
    "billing_checkout_create": (404, 409, 502, 503),  # billing_disabled, already_subscribed, stripe_*
    "billing_portal_create": (404, 409, 502, 503),  # billing_disabled, no_billing_account
    "billing_webhook_create": (400, 404),  # invalid_signature, webhook_not_configured
    "connections_connect_create": (409, 503),  # network_not_configured
    "twitter_connection_connect_create": (409, 503),
    "twitter_connection_disconnect_create": (404,),  # not_connected (with the reference's status, message)
    "twitter_connection_disconnect_destroy": (404,),
}


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": _describe_codes(),
        "properties": {
            "code": {"type": "string", "description": "Stable, machine-readable error code."},
            "detail": {"type": "string", "description": "A sentence for people."},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "description": "Messages by input field name; empty when the error is not about one field.",
            },
            "retry_after": {
                "type": "integer",
                "description": "Seconds to wait before retrying (`throttled`, `locked_out`, some 503s).",
            },
        },
        "required": ["code", "detail", "fields"],
    }


def _describe_codes() -> str:
    lines = [
        "Every error has this shape. Some codes add fields (`retry_after` on `throttled` and `locked_out`;",
        "`limit`, `used`, `resets_at`, `upgrade_url` on `limit_reached`). General codes:",
        "",
        "| code | status | when |",
        "|---|---|---|",
    ]
    lines += [f"| `{code}` | {status} | {when} |" for code, (status, when) in ERROR_CODES.items()]
    lines += ["", "Endpoints add domain codes (for example `note_not_ready`, `model_unavailable`): see docs/api.md."]
    return "\n".join(lines)


class JWTScheme(SimpleJWTScheme):
    """`jwtAuth` for SimpleJWT's authentication and its subclasses (the revocation-aware one)."""

    match_subclasses = True
    priority = 1


class AutoSchema(openapi.AutoSchema):
    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses: dict[str, Any] = operation["responses"]
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=_error_schema()
        )
        self.registry.register_on_missing(component)
        reference = component.ref
        for status in sorted(self._error_statuses(operation)):
            responses.setdefault(
                str(status),
                {"description": STATUS_DESCRIPTIONS[status], "content": {"application/json": {"schema": reference}}},
            )
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_statuses(self, operation: dict[str, Any]) -> set[int]:
        statuses = set(OPERATION_ERRORS.get(operation["operationId"], ()))
        parameters = operation.get("parameters", [])
        if "requestBody" in operation or self._declares_delete_body():
            statuses |= {400, 415}
        if any(parameter["in"] != "path" for parameter in parameters):
            statuses.add(400)
        # An object named in the path may not exist; a page past the end is not found either.
        if any(parameter["in"] == "path" or parameter["name"] == "page" for parameter in parameters):
            statuses.add(404)
        # An invalid token is refused (401) even where signing in is optional.
        if getattr(self.view, "authentication_classes", ()):
            statuses.add(401)
        if getattr(self.view, "throttle_classes", ()):
            statuses.add(429)
        # Any request can meet a full server or an unreachable database (mindpost.core.overload).
        statuses.add(503)
        return statuses

    def _declares_delete_body(self) -> bool:
        """spectacular leaves DELETE bodies out of the schema, but a view may read one
        (`@extend_schema(request=...)` on delete): its validation errors are 400s all the same."""
        if self.method != "DELETE":
            return False
        self._explicit_only = True
        try:
            return self.get_request_serializer() is not None
        finally:
            self._explicit_only = False

    def get_request_serializer(self) -> Any:
        # While probing, only an @extend_schema(request=...) answers (that override returns before
        # reaching here); guessing the view's serializer would log an error for plain APIViews.
        if getattr(self, "_explicit_only", False):
            return None
        return super().get_request_serializer()


# OpenAPI links from a create to the item operations, so clients (and stateful fuzzing) know
# that the created object's `id` feeds the item paths: (create, status, targets, path parameter).
LINKS: list[tuple[str, str, tuple[str, ...], str]] = [
    (
        "brain_dumps_create",
        "201",
        ("brain_dumps_retrieve", "brain_dumps_partial_update", "brain_dumps_retry_create", "brain_dumps_destroy"),
        "id",
    ),
    ("posts_create", "201", ("posts_retrieve", "posts_partial_update", "posts_destroy"), "id"),
    (
        "chat_conversations_create",
        "201",
        ("chat_conversations_retrieve", "chat_conversations_messages_create", "chat_conversations_destroy"),
        "conversation_id",
    ),
]


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]: add LINKS to the responses they start from."""
    operations = {
        operation["operationId"]: operation
        for item in result.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for source, status, targets, parameter in LINKS:
        response = operations.get(source, {}).get("responses", {}).get(status)
        if response is None:
            continue
        response["links"] = {
            target: {"operationId": target, "parameters": {parameter: "$response.body#/id"}}
            for target in targets
            if target in operations
        }
    return result
