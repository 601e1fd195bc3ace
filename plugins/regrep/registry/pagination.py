"""The ``Link`` header that pages catalog and tag lists (distribution-spec "Listing Tags").

Registries return at most ``n`` entries and a ``Link: </v2/...?n=7&last=x>; rel="next"``
header (RFC 8288) while more remain. Some send a relative URL, some an absolute one, some
extra parameters; we only follow the path and query, on our own origin, so a Link can never
steer credentials to another host. requests parses the header; relation names are compared
case-insensitively, as RFC 8288 has them.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from requests.utils import parse_header_links


def next_link(header: str | None, page_url: str) -> str | None:
    """The absolute URL of the next page, on ``page_url``'s origin; None on the last page.

    A relative link resolves against ``page_url`` (the page that carried it).
    """
    for link in parse_header_links(header) if header else ():
        params = {key.lower(): value for key, value in link.items()}
        if "next" in params.get("rel", "").lower().split():
            target = urlsplit(urljoin(page_url, link["url"].strip()))
            base = urlsplit(page_url)
            query = f"?{target.query}" if target.query else ""
            return f"{base.scheme}://{base.netloc}{target.path}{query}"
    return None
