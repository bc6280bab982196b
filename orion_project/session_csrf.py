"""CSRF tokens for the signed-in dashboard's API calls, in the 2.20 reference's scheme.

The 2.20 dashboard asks ``GET /api/csrf-token?client=<its id>`` once it is told
``csrf_enabled`` (``/ui-settings``), then sends the token and its client id as the
``Prefect-Csrf-Token`` and ``Prefect-Csrf-Client`` headers on every POST, PUT, PATCH and
DELETE, and fetches a new one before it expires. A token here is an HMAC (keyed by the
server's secret) of the session, the client id and the time it was issued: it holds for
that session and client only, for ``TOKEN_LIFETIME``, and needs no table (signing out
changes the session, so its tokens stop working). A page on another site can neither read
a token (the browser hides the answer) nor guess one.
"""

from __future__ import annotations

import datetime as dt
import hmac

from django.utils import timezone
from django.utils.crypto import salted_hmac

TOKEN_LIFETIME = dt.timedelta(hours=1)
TOKEN_HEADER = "Prefect-Csrf-Token"
CLIENT_HEADER = "Prefect-Csrf-Client"
MAX_CLIENT_LENGTH = 200
_SALT = "orion.session-csrf"


def _mac(*, session_key: str, client: str, issued: int) -> str:
    return salted_hmac(_SALT, f"{session_key}\n{client}\n{issued}", algorithm="sha256").hexdigest()


def issue_token(*, session_key: str, client: str) -> tuple[str, dt.datetime]:
    """A token for ``client`` in the session ``session_key``, and when it expires."""
    issued = int(timezone.now().timestamp())
    token = f"{issued}.{_mac(session_key=session_key, client=client, issued=issued)}"
    return token, dt.datetime.fromtimestamp(issued, tz=dt.UTC) + TOKEN_LIFETIME


def token_valid(*, session_key: str, client: str | None, token: str | None) -> bool:
    """Whether ``token`` was issued to ``client`` in this session and has not expired."""
    if not client or not token or len(client) > MAX_CLIENT_LENGTH:
        return False
    issued_text, _, mac = token.partition(".")
    if not issued_text.isdigit():
        return False
    issued = int(issued_text)
    age = timezone.now().timestamp() - issued
    if age < -60 or age > TOKEN_LIFETIME.total_seconds():
        return False
    return hmac.compare_digest(mac, _mac(session_key=session_key, client=client, issued=issued))
