"""The API's JSON parser: DRF's, with a document nested too deeply for Python answered as bad input."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:  # DRF catches only ValueError: "[" * 100_000 would be a 500
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
