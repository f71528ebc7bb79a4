"""Issue 15, item 10: static files have hashed names, are served compressed and cached for good,
so a page load re-checks none of them."""

from __future__ import annotations

import re
from typing import Any

HASHED = re.compile(r"/static/.+\.[0-9a-f]{12}\.(css|js|svg)$")


def test_static_files_are_hashed_compressed_and_cached_for_good(alice: Any) -> None:
    responses: list[Any] = []
    alice.page.on("response", lambda response: responses.append(response) if "/static/" in response.url else None)
    alice.goto("/record/")
    static = {response.url: response for response in responses}
    assert static, "no static files loaded"
    for url, response in static.items():
        assert HASHED.search(url), f"not a hashed name: {url}"
        headers = response.all_headers()
        cache = headers.get("cache-control", "")
        assert "immutable" in cache, (url, cache)
        max_age = int(re.search(r"max-age=(\d+)", cache).group(1))  # type: ignore[union-attr]
        assert max_age >= 365 * 24 * 3600, (url, cache)
        if url.endswith((".css", ".js")):
            assert headers.get("content-encoding") in ("gzip", "br"), (url, headers.get("content-encoding"))
    # A second page load re-checks none of them (no conditional requests answered 304).
    responses.clear()
    alice.goto("/notes/")
    assert responses, "no static files on the second page"
    assert not [response.url for response in responses if response.status == 304]
    alice.assert_clean()
