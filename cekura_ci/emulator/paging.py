"""Paging, as DRF's PageNumberPagination does it: `page` and `page_size`, absolute `next` and
`previous` links, 404 {"detail": "Invalid page."} for a page that does not exist."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from .validation import first

T = TypeVar("T")
INVALID_PAGE = "Invalid page."


class InvalidPage(Exception):
    """The page asked for does not exist (or is not a page number): DRF answers 404."""


@dataclass(frozen=True)
class Page:
    items: list[Any]
    number: int
    pages: int
    count: int

    def envelope(
        self, results: list[Any], url: str, query: Mapping[str, list[str]]
    ) -> dict[str, Any]:
        """count / next / previous / results, the links built from the request's own URL."""
        return {
            "count": self.count,
            "next": _link(url, query, self.number + 1) if self.number < self.pages else None,
            "previous": _link(url, query, self.number - 1) if self.number > 1 else None,
            "results": results,
        }


def paginate(
    rows: Sequence[T], query: Mapping[str, list[str]], default_size: int, max_size: int
) -> Page:
    size = _page_size(first(query, "page_size"), default_size, max_size)
    pages = max(1, math.ceil(len(rows) / size))
    raw = first(query, "page") or "1"
    if raw == "last":
        number = pages
    else:
        try:
            number = int(raw)
        except ValueError:
            raise InvalidPage from None
    if number < 1 or number > pages:
        raise InvalidPage
    return Page(list(rows[(number - 1) * size : number * size]), number, pages, len(rows))


def _page_size(raw: str | None, default: int, cutoff: int) -> int:
    """A positive `page_size`, capped; anything else falls back to the default, as in DRF."""
    try:
        size = int(raw) if raw is not None else 0
    except ValueError:
        size = 0
    return min(size, cutoff) if size > 0 else default


def _link(url: str, query: Mapping[str, list[str]], number: int) -> str:
    """DRF's replace_query_param (and remove_query_param for page 1): parameters sorted."""
    params = {key: list(values) for key, values in query.items() if key != "page"}
    if number > 1:
        params["page"] = [str(number)]
    text = urlencode(sorted(params.items()), doseq=True)
    return f"{url}?{text}" if text else url
