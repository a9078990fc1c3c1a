"""Protection for the dashboard's one write (forget) against cross-site requests.

- A per-session token: the browser gets a random session id in a SameSite=Strict, HttpOnly cookie; forms
  carry HMAC(process secret, session id). A page on another site can neither read the token nor make the
  browser send the cookie with its POST.
- An Origin check: a POST must come from a page of this dashboard (Origin, or Referer when a browser sends
  no Origin, equal to this server's own origin).
- Host check (in app.py, TrustedHostMiddleware): requests naming another host are refused, so a DNS
  rebinding page cannot read the bank either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

COOKIE = "memcollab_session"


class Guard:
    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def session_id(self, request: Request) -> tuple[str, bool]:
        """(session id, whether it is new and must be set as a cookie)."""
        sid = request.cookies.get(COOKIE, "")
        if len(sid) == 43 and sid.replace("-", "").replace("_", "").isalnum():
            return sid, False
        return secrets.token_urlsafe(32), True

    def token(self, session_id: str) -> str:
        return hmac.new(self._secret, session_id.encode(), hashlib.sha256).hexdigest()

    def problem(self, request: Request, form_token: str) -> str | None:
        """Why a state-changing request must be refused, or None."""
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        origin = request.headers.get("origin")
        if origin is None and request.headers.get("referer"):
            ref = urlsplit(request.headers["referer"])
            origin = f"{ref.scheme}://{ref.netloc}"
        if not origin or origin == "null":
            return "the request has no Origin; submit the form from the dashboard's own page"
        if origin != own:
            return f"the request came from {origin}, not from this dashboard ({own})"
        sid = request.cookies.get(COOKIE)
        if not sid or not form_token or not hmac.compare_digest(self.token(sid), form_token):
            return "the form's session token is missing or stale; reload the record's page and try again"
        return None
