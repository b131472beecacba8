"""One page of a list, the same shape everywhere: {"items", "page", "per_page", "total"}."""

from __future__ import annotations

from typing import Callable

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
# Deeper pages than anyone reads; it keeps the offset a small number.
MAX_PAGE = 100_000


def paginate(query, shape: Callable, page: int | None = None, per_page: int | None = None) -> dict:
    """Run `query` for one page (1-based) and shape each row."""
    page = page or 1
    per_page = min(per_page or DEFAULT_PER_PAGE, MAX_PER_PAGE)
    rows = query.paginate(page, per_page)
    return {"items": [shape(row) for row in rows], "page": page, "per_page": per_page, "total": query.count()}
