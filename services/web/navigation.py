"""Where a page may send the browser after signing in: only to a path of this site."""

from __future__ import annotations

from urllib.parse import urlsplit


def local_path(candidate: str | None) -> str | None:
    """`candidate` if it is a path on this site, else None.

    Refuses anything a browser would take to another host: a scheme or host
    (`https://x`, `//x`), a backslash (`/\\x`, which browsers read as `//x`), and
    control characters or spaces that some browsers strip before resolving.
    """
    if not candidate or len(candidate) > 2000:
        return None
    if not candidate.startswith("/") or candidate.startswith("//"):
        return None
    if "\\" in candidate or any(ord(ch) < 33 or ord(ch) == 127 for ch in candidate):
        return None
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return None
    return candidate
