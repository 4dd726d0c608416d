"""The API's JSON parser: DRF's, with a document nested deeper than MAX_JSON_DEPTH answered as bad input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from config.json_depth import MAX_JSON_DEPTH, too_deep

TOO_DEEP = f"JSON parse error - the document is nested too deeply (more than {MAX_JSON_DEPTH} levels)."


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # DRF catches only ValueError: "[" * 100_000 would be a 500
            raise ParseError(TOO_DEEP) from None
        if too_deep(data):  # parsed, but deep enough to fail later in whatever walks it
            raise ParseError(TOO_DEEP)
        return data
