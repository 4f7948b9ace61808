"""The OpenAPI schema's error answers, on every operation: `AutoSchema` (settings
`REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`).

drf-spectacular documents the success answer a view declares. The error answers are the same
for every view and come from the project's building blocks, so they are added here, by rule,
with the one error body (`core.exceptions.exception_handler`) as their schema:

- 400, every operation: bad input (a body, a query parameter, a cursor; a NUL anywhere in the
  address, `core.middleware.RefuseNulMiddleware`);
- 401, every operation with an authenticator: no or invalid credentials (an invalid token is
  refused even where sign-in is not needed);
- 403, every operation but a read open to all: the access rule's "visible, but not this"; a
  session's write without its CSRF token;
- 404, every operation with a path parameter: not found, or not visible to you;
- 409, every write that needs sign-in: the record's state refuses it
  (`core.exceptions.StateConflict`);
- 412 and 428, every operation with an `If-Match` header parameter (428 when it is required):
  stale or missing `If-Match` (decision 0004);
- 415, every operation with a request body: a body in a media type the API does not parse;
- 429, every operation with a throttle: too many attempts (sign-in).

A view may name further ones in `extra_error_statuses` (e.g. a 404 for a family named in the
body); an error answer the view's `extend_schema` documents keeps its description and gets the
error body if it had none. A new endpoint needs nothing more than its request body parsed by a
`core.serializers.InputSerializer` (else a warning here) and its filters by a `QuerySerializer`.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.drainage import warn
from drf_spectacular.plumbing import ResolvedComponent, force_instance, is_serializer
from rest_framework.permissions import SAFE_METHODS, AllowAny

from core.serializers import InputSerializer, StrictInputSerializer

ERROR = "Error"
VALIDATION_ERROR = "ValidationError"

ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` says what went wrong in words; `code` names it for programs.",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Field errors as `{field: [message, ...]}` (nested for a nested field; "
        "`non_field_errors` for the body as a whole), else `{detail, code}`."
    ),
    "minProperties": 1,
    "additionalProperties": {
        "anyOf": [
            {"type": "string"},
            {"type": "array"},
            {"type": "object"},
        ]
    },
}

DESCRIPTIONS = {
    "400": "Bad input: each field named with its messages, nothing saved.",
    "401": "No credentials, or invalid ones.",
    "403": "Signed in, but not allowed to do this.",
    "404": "Not found, or not visible to you.",
    "409": "The record's current state refuses this.",
    "412": "The record has changed since you read it (stale If-Match).",
    "415": "The request body's media type is not accepted (send application/json).",
    "428": "If-Match is required: send the ETag you last read.",
    "429": "Too many requests; try again later.",
}


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code in self.error_statuses(operation):
            responses.setdefault(code, {"description": DESCRIPTIONS.get(code, "An error.")})
        for code, documented in responses.items():
            if str(code) >= "400" and "content" not in documented:
                documented["content"] = {"application/json": {"schema": self._error_ref(code)}}
        operation["responses"] = dict(sorted(responses.items()))
        if "requestBody" in operation:
            self._input_serializer_check()
        return operation

    def _map_basic_serializer(self, serializer, direction):
        """A `StrictInputSerializer`'s body says it takes no other keys (it refuses them, 400)."""
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(force_instance(serializer), StrictInputSerializer):
            schema["additionalProperties"] = False
        return schema

    def _input_serializer_check(self) -> None:
        """A request body is parsed by a `core.serializers.InputSerializer`, which refuses the
        JSON types the schema does not give (a warning fails tests/test_schema.py)."""
        serializer = force_instance(self.get_request_serializer())
        serializer = getattr(serializer, "child", serializer)  # a list of them
        if is_serializer(serializer) and not isinstance(serializer, InputSerializer):
            warn(
                f"{self.method} {self.path}: the request body's serializer "
                f"{type(serializer).__name__} is not a core.serializers.InputSerializer"
            )

    def error_statuses(self, operation: dict) -> list[str]:
        view = self.view
        needs_sign_in = not all(isinstance(p, AllowAny) for p in view.get_permissions())
        writes = self.method not in SAFE_METHODS
        if_match = [
            p
            for p in operation.get("parameters", [])
            if p["in"] == "header" and p["name"].lower() == "if-match"
        ]
        rules = {
            "400": True,
            "401": bool(view.get_authenticators()),
            "403": needs_sign_in or writes,
            "404": "{" in self.path,
            "409": needs_sign_in and writes,
            "412": bool(if_match),
            "415": "requestBody" in operation,
            "428": any(p.get("required") for p in if_match),
            "429": bool(view.get_throttles()),
        }
        extra = {str(code) for code in getattr(view, "extra_error_statuses", ())}
        return sorted({code for code, applies in rules.items() if applies} | extra)

    def _error_ref(self, code: str) -> dict:
        name, schema = (
            (VALIDATION_ERROR, VALIDATION_ERROR_SCHEMA) if code == "400" else (ERROR, ERROR_SCHEMA)
        )
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
        )
        self.registry.register_on_missing(component)
        return component.ref
