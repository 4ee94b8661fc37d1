"""One sender per channel kind: email, signed webhook, Slack, Linear: each returns an Outcome, none raises.

Retry policy lives here too: network errors, 5xx and 429 are worth another try; any other 4xx (and a GraphQL
error in a 200) means the request itself is wrong, and sending it again would be refused again.
"""

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from jobs.notifications import texts

LINEAR_MUTATION = (
    "mutation IssueCreate($input: IssueCreateInput!) "
    "{ issueCreate(input: $input) { success issue { id identifier url } } }"
)
USER_AGENT = "Runyard-Notifications/1"
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    retryable: bool = False
    status_code: int | None = None
    error: str = ""
    external_id: str = ""
    external_url: str = ""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Runyard-Signature`` value: HMAC-SHA256 of ``"<timestamp>.<raw body>"`` with the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def timeout() -> httpx.Timeout:
    seconds = settings.NOTIFICATIONS_HTTP_TIMEOUT
    return httpx.Timeout(seconds, connect=min(seconds, 5.0))


def send_email(delivery) -> Outcome:
    subject, body = email_message(delivery.payload)
    try:
        send_mail(subject, body, None, [delivery.target])
    except Exception as error:  # SMTP and socket errors alike: the server may take it next time
        return Outcome(False, retryable=True, error=_short(f"{type(error).__name__}: {error}"))
    return Outcome(True)


def email_message(payload: dict) -> tuple[str, str]:
    """Budget alerts keep the wording of the budget email (tenants/email/budget_alert_*.txt)."""
    if payload.get("event") == "budget":
        context = _budget_context(payload)
        subject = render_to_string("tenants/email/budget_alert_subject.txt", context).strip()
        return subject, render_to_string("tenants/email/budget_alert_body.txt", context)
    return f"[Runyard] {texts.headline(payload)}", texts.plain_text(payload)


def _budget_context(payload: dict) -> dict:
    from tenants.models import Quota

    details = payload.get("details") or {}
    alert = {
        "spent": details.get("spent"),
        "budget": details.get("budget"),
        "threshold": int(details.get("threshold") or 0),
        "month": date.fromisoformat(details["month"]) if details.get("month") else None,
    }
    return {
        "alert": alert,
        "tenant": payload.get("tenant") or {},
        "action": Quota.BudgetAction(details.get("action") or Quota.BudgetAction.WARN),
        "url": payload.get("url", ""),
    }


def send_webhook(delivery) -> Outcome:
    channel = delivery.channel
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Runyard-Event": delivery.event,
        "X-Runyard-Delivery": str(delivery.code),
        "X-Runyard-Timestamp": str(timestamp),
        "X-Runyard-Signature": sign(channel.secret, timestamp, body),
    }
    return _post(channel.url, content=body, headers=headers)[0]


def send_slack(delivery) -> Outcome:
    body = json.dumps(texts.slack_message(delivery.payload)).encode()
    return _post(delivery.channel.url, content=body, headers={"Content-Type": "application/json"})[0]


def send_linear(delivery) -> Outcome:
    channel, payload = delivery.channel, delivery.payload
    variables = {
        "input": {
            "teamId": channel.linear_team_id,
            "title": texts.headline(payload),
            "description": texts.markdown(payload),
            "priority": texts.linear_priority(payload),
        }
    }
    body = json.dumps({"query": LINEAR_MUTATION, "variables": variables}).encode()
    headers = {"Content-Type": "application/json", "Authorization": channel.linear_api_key}
    outcome, response = _post(channel.url, content=body, headers=headers)
    return _linear_issue(outcome, response) if outcome.delivered else outcome


def _linear_issue(outcome: Outcome, response: httpx.Response) -> Outcome:
    """A GraphQL server answers 200 with ``errors`` when it refuses: that is a failure, not a delivery."""
    try:
        answer = response.json()
    except ValueError:
        return Outcome(False, status_code=outcome.status_code, error="The answer is not JSON.")
    errors = answer.get("errors") if isinstance(answer, dict) else None
    created = ((answer.get("data") or {}).get("issueCreate") or {}) if isinstance(answer, dict) else {}
    if errors or not created.get("success"):
        messages = "; ".join(str(e.get("message", e)) for e in errors or []) or "issueCreate did not succeed."
        return Outcome(False, status_code=outcome.status_code, error=_short(f"GraphQL: {messages}"))
    issue = created.get("issue") or {}
    return Outcome(
        True,
        status_code=outcome.status_code,
        external_id=str(issue.get("identifier") or issue.get("id") or ""),
        external_url=str(issue.get("url") or ""),
    )


def _post(url: str, *, content: bytes, headers: dict) -> tuple[Outcome, httpx.Response | None]:
    refusal = _refused_address(url)
    if refusal:
        return refusal, None
    try:
        with httpx.Client(timeout=timeout(), follow_redirects=False) as client:
            response = client.post(url, content=content, headers={"User-Agent": USER_AGENT, **headers})
    except httpx.HTTPError as error:
        return Outcome(False, retryable=True, error=_short(f"{type(error).__name__}: {error}")), None
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(True, status_code=code), response
    error = _short(f"HTTP {code}: {response.text}")
    return Outcome(False, retryable=code >= 500 or code == 429, status_code=code, error=error), response


def _refused_address(url: str) -> Outcome | None:
    """Tenants choose these URLs: unless allowed, none may reach the portal's own network (SSRF)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Outcome(False, error="The URL must be http(s) with a host.")
    if settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as error:
        return Outcome(False, retryable=True, error=f"Cannot resolve {parts.hostname}: {error}")
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return Outcome(False, error=f"{parts.hostname} resolves to a non-public address ({address}).")
    return None


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


SENDERS = {"email": send_email, "webhook": send_webhook, "slack": send_slack, "linear": send_linear}
