"""The HTTP calls actions make: a webhook block's call and the notification blocks whose
message is one HTTP request the server can make itself.

Notification block types sent: ``custom-webhook`` (the reference's placeholders, query,
form or JSON data, headers, cookies and timeout), ``slack-webhook`` and
``ms-teams-webhook`` (an incoming-webhook message with the subject as title and the body
as text, posted to the block's URL). The other notification types of the reference go
through services it reaches with its own client libraries; sending through them fails
the action with a reason saying so.

A network error, a timeout or a 429/5xx answer from a notification service is a
retryable failure; a webhook's answer, whatever its status, is recorded as the reference
does (status, headers without the sensitive ones, the body cut to 1,000 characters).
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from automations_app.actions.invocation import ActionFailed
from events_app.truncation import truncated


def json_body(value: Any) -> bytes:
    """JSON as the reference's HTTP client sends it (compact, UTF-8)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


_PLACEHOLDER = re.compile(r"{{\s*([\w.\-]+)\s*}}")
_REDACTED_PREFIXES = ("x-forwarded", "x-b3", "x-cloud-trace", "x-envoy", "x-prefect")
NOTIFICATION_USER_AGENT = "Prefect Notifications"
SENT_NOTIFICATION_TYPES = frozenset({"custom-webhook", "slack-webhook", "ms-teams-webhook"})


@dataclass(frozen=True)
class Answer:
    """What the far side answered."""

    status: int
    headers: dict[str, str]
    text: str


def send(method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeout: float) -> Answer:
    """One HTTP request; an error status is an answer, a network failure an ``OSError``."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers.items()), response.read().decode(errors="replace"))
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers.items()), error.read().decode(errors="replace"))


def shown_header(name: str) -> bool:
    """Whether a response header may go into an event (no credentials, no tracing noise)."""
    lowered = name.lower()
    return lowered not in {"authorization", "traceparent", "via"} and not lowered.startswith(_REDACTED_PREFIXES)


def check_public_url(url: str) -> None:
    """Refuse a URL that is not http(s) or points at a private address (``ValueError``)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"{url!r} is not a valid URL.  Only HTTP and HTTPS URLs are allowed.")
    hostname = (parsed.hostname or "").strip("[]")
    if not hostname:
        raise ValueError(f"{url!r} is not a valid URL.")
    try:
        address = ipaddress.ip_address(socket.gethostbyname(hostname))
    except (socket.gaierror, UnicodeError):
        try:
            address = ipaddress.ip_address(hostname)
        except ValueError:
            raise ValueError(f"{url!r} is not a valid URL.  It could not be resolved.") from None
    if address.is_private:
        raise ValueError(f"{url!r} is not a valid URL.  It resolves to the private address {address}.")


def call_webhook(data: Mapping[str, Any], payload: str) -> dict[str, Any]:
    """Call a webhook block (``data``: method, url, headers, allow_private_urls) with the
    rendered payload sent as a JSON string; the details of its answer."""
    url = str(data.get("url") or "")
    if not data.get("allow_private_urls", True):
        check_public_url(url)
    headers = {"Content-Type": "application/json", **{str(k): str(v) for k, v in (data.get("headers") or {}).items()}}
    answer = send(
        str(data.get("method") or "POST"),
        url,
        headers=headers,
        body=json_body(payload),
        timeout=settings.ORION_ACTIONS_HTTP_TIMEOUT_SECONDS,
    )
    return {
        "status_code": answer.status,
        "response_body": truncated(answer.text, 1000),
        "response_headers": {name.lower(): value for name, value in answer.headers.items() if shown_header(name)},
    }


def notify(block_type_slug: str, data: Mapping[str, Any], *, subject: str, body: str) -> None:
    """Send a notification through a block document of ``block_type_slug``; raises
    :class:`ActionFailed` (reason "Notification failed", the cause in its log)."""
    if block_type_slug not in SENT_NOTIFICATION_TYPES:
        raise ActionFailed(
            "Notification failed",
            details={"notification_log": f"Notifications through {block_type_slug} blocks are not sent by this server"},
        )
    try:
        if block_type_slug == "custom-webhook":
            answer = _custom_webhook(data, subject=subject, body=body)
        else:
            url = str(data.get("url") or "")
            if not data.get("allow_private_urls", True):
                check_public_url(url)
            message = _slack_message if block_type_slug == "slack-webhook" else _teams_message
            answer = _post_json(url, message(subject, body, data))
    except (OSError, ValueError) as exc:
        retryable = not isinstance(exc, ValueError)
        raise ActionFailed("Notification failed", retryable=retryable, details={"notification_log": repr(exc)}) from exc
    if answer.status >= 400:
        log = f"HTTP {answer.status}: {truncated(answer.text, 1000)}"
        retryable = answer.status == 429 or answer.status >= 500
        raise ActionFailed("Notification failed", retryable=retryable, details={"notification_log": log})


def _post_json(url: str, message: Mapping[str, Any]) -> Answer:
    headers = {"Content-Type": "application/json", "User-Agent": NOTIFICATION_USER_AGENT}
    return send("POST", url, headers=headers, body=json_body(message), timeout=_timeout())


def _timeout() -> float:
    return float(settings.ORION_ACTIONS_HTTP_TIMEOUT_SECONDS)


def _slack_message(subject: str, body: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"attachments": [{"title": subject, "text": body, "footer": NOTIFICATION_USER_AGENT}]}


def _teams_message(subject: str, body: str, data: Mapping[str, Any]) -> dict[str, Any]:
    wrap = bool(data.get("wrap", True))
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": subject, "weight": "Bolder", "size": "Large", "wrap": wrap},
            {"type": "TextBlock", "text": body, "wrap": wrap},
        ],
    }
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def substituted(template: Any, values: Mapping[str, Any]) -> Any:
    """``template`` with every ``{{key}}`` of ``values`` put in (a string that is one
    placeholder takes the value itself); unknown keys stay as they are."""
    if isinstance(template, dict):
        return {key: substituted(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [substituted(item, values) for item in template]
    if not isinstance(template, str):
        return template
    whole = _PLACEHOLDER.fullmatch(template.strip())
    if whole and whole.group(1) in values:
        return values[whole.group(1)]
    return _PLACEHOLDER.sub(lambda found: str(values.get(found.group(1), found.group(0))), template)


def _custom_webhook(data: Mapping[str, Any], *, subject: str, body: str) -> Answer:
    """The reference's custom webhook: placeholders from the secrets, ``subject``, ``body``
    and ``name``; form data or JSON data; an error status fails it."""
    if data.get("form_data") is not None and data.get("json_data") is not None:
        raise ValueError("both `Form Data` and `JSON Data` provided")
    values = {**(data.get("secrets") or {}), "subject": subject, "body": body, "name": data.get("name")}
    url = str(substituted(data.get("url") or "", values))
    params = substituted(data.get("params"), values)
    if params:
        url += ("&" if urllib.parse.urlparse(url).query else "?") + urllib.parse.urlencode(params)
    headers = {"User-Agent": NOTIFICATION_USER_AGENT, **(substituted(data.get("headers"), values) or {})}
    cookies = substituted(data.get("cookies"), values)
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    content: bytes | None = None
    if data.get("json_data") is not None:
        content = json_body(substituted(data["json_data"], values))
        headers.setdefault("Content-Type", "application/json")
    elif data.get("form_data") is not None:
        content = urllib.parse.urlencode(substituted(data["form_data"], values)).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    timeout = float(data.get("timeout") or 10)
    return send(str(data.get("method") or "POST"), url, headers=headers, body=content, timeout=timeout)
