"""The JSON parser of every endpoint (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

DRF's parser, refusing with a 400 two kinds of body that no endpoint can take and that would
otherwise end in a 500 further on:

- nested deeper than `MAX_DEPTH` (no body of this API nests more than two levels). Deeper
  nesting makes the decoder, or any code that walks the data after it, recurse past Python's
  limit: a RecursionError. Answered as DRF answers a body that is not JSON,
  `{"detail": ..., "code": "parse_error"}`.
- a NUL character in any string. PostgreSQL's text cannot hold one: a NUL that reaches a query
  (a code looked up by a slug field, say) raises a database error. DRF's CharField refuses NUL
  on its own fields; this refuses it in every value and key, with CharField's message, under
  the name of the top-level field it came in (`{"name": ["Null characters are not
  allowed."]}`), else as `{"detail": ..., "code": "invalid_characters"}`.
"""

from __future__ import annotations

from rest_framework import exceptions, parsers

MAX_DEPTH = 32
NUL = "\x00"
NUL_MESSAGE = "Null characters are not allowed."  # DRF's ProhibitNullCharactersValidator's


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_too_deep()) from None
        refuse_hostile(data)
        return data


def _too_deep() -> str:
    return f"JSON parse error - nested deeper than {MAX_DEPTH} levels."


def refuse_hostile(data) -> None:
    """Raise ParseError / ValidationError if `data` nests deeper than `MAX_DEPTH` or holds a NUL.

    Walks with an explicit stack (recursing would meet the very limit this guards)."""
    stack = [(data, 1, None)]  # (value, depth of a container at this place, top-level field)
    while stack:
        value, depth, field = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                _refuse_nul(field)
            continue
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        if depth > MAX_DEPTH:
            raise exceptions.ParseError(_too_deep())
        top = depth == 1 and isinstance(value, dict)
        for key, item in items:
            if isinstance(key, str) and NUL in key:
                _refuse_nul(None)
            stack.append((item, depth + 1, key if top else field))


def _refuse_nul(field: str | None):
    if field is None:
        raise exceptions.ParseError(NUL_MESSAGE, code="invalid_characters")
    raise exceptions.ValidationError({field: [NUL_MESSAGE]}, code="null_characters_not_allowed")
