"""The ``Link`` header that pages catalog and tag lists (distribution-spec "Listing Tags").

Registries return at most ``n`` entries and a ``Link: </v2/...?n=7&last=x>; rel="next"``
header (RFC 8288, formerly RFC 5988) while more remain. Some send a relative URL, some an
absolute one, some extra parameters; we only follow the path and query, on our own origin,
so a Link can never steer credentials to another host.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

_LINK_RE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL_RE = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def next_link(header: str | None, page_url: str) -> str | None:
    """The absolute URL of the next page, on ``page_url``'s origin; None on the last page.

    A relative link resolves against ``page_url`` (the page that carried it).
    """
    if not header:
        return None
    for match in _LINK_RE.finditer(header):
        rel = _REL_RE.search(match.group(2))
        relations = (rel.group(1) or rel.group(2) or "").split() if rel else []
        if "next" in (r.lower() for r in relations):
            target = urlsplit(urljoin(page_url, match.group(1).strip()))
            base = urlsplit(page_url)
            query = f"?{target.query}" if target.query else ""
            return f"{base.scheme}://{base.netloc}{target.path}{query}"
    return None
