"""How close an account is to a platform's limits, from the usage headers of its last calls.

Graph: `X-App-Usage` (app-wide percentages) and `X-Business-Use-Case-Usage` (per page / IG
account, with `estimated_time_to_regain_access` in minutes). X: `x-rate-limit-*`, kept per
endpoint ("POST /2/tweets", "GET /2/tweets"), since X limits each endpoint on its own.
Kept in Django's cache so every worker sees the latest numbers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.core.cache import cache

logger = logging.getLogger("platforms")

APP = "__app__"  # account key for app-wide usage
DEFAULT_TTL = 3600


@dataclass(frozen=True)
class Usage:
    percent: float | None = None
    remaining: int | None = None
    limit: int | None = None
    reset_at: datetime | None = None
    regain_at: datetime | None = None


def _key(platform: str, account_id: str | None, operation: str | None = None) -> str:
    key = f"platforms:usage:{str(platform).upper()}:{account_id or APP}"
    return f"{key}:{operation.replace(' ', '_')}" if operation else key


def record(platform: str, account_id: str | None, usage: Usage, *, operation: str | None = None) -> None:
    """Keep the latest usage of an account (or the app); `operation` ("GET /2/tweets") when the
    platform limits each endpoint on its own, so one endpoint's limit never pauses another."""
    ttl = DEFAULT_TTL
    now = datetime.now(timezone.utc)
    for moment in (usage.reset_at, usage.regain_at):
        if moment and moment > now:
            ttl = max(ttl, int((moment - now).total_seconds()) + 60)
    cache.set(_key(platform, account_id, operation), usage, ttl)


def current(platform: str, account_id: str | None, operation: str | None = None) -> Usage | None:
    return cache.get(_key(platform, account_id, operation))


def should_slow_down(platform: str, account_id: str | None, threshold: float = 90, *,
                     operation: str | None = None) -> bool:
    """True when this account (or the app as a whole) is at `threshold` percent of a limit that
    applies to `operation`: its own endpoint's limit, and the account-wide and app-wide ones."""
    now = datetime.now(timezone.utc)
    found = [current(platform, account_id), current(platform, None)]
    if operation:
        found += [current(platform, account_id, operation), current(platform, None, operation)]
    for usage in found:
        if usage is None:
            continue
        if usage.regain_at and usage.regain_at > now:
            return True
        if usage.percent is not None and usage.percent >= threshold:
            return True
        if usage.remaining is not None and usage.limit:
            used = 100.0 * (usage.limit - usage.remaining) / usage.limit
            if used >= threshold and (usage.reset_at is None or usage.reset_at > now):
                return True
    return False


# ------------------------------------------------------------------------ parsing


def _percent(entry: Mapping) -> float | None:
    values = [float(entry[k]) for k in ("call_count", "total_cputime", "total_time")
              if isinstance(entry.get(k), (int, float))]
    return max(values) if values else None


def parse_app_usage(headers: Mapping[str, str]) -> Usage | None:
    raw = headers.get("X-App-Usage") or headers.get("x-app-usage")
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return Usage(percent=_percent(data)) if isinstance(data, dict) else None


def parse_business_usage(headers: Mapping[str, str]) -> dict[str, Usage]:
    raw = headers.get("X-Business-Use-Case-Usage") or headers.get("x-business-use-case-usage")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    now = datetime.now(timezone.utc)
    found = {}
    for object_id, entries in (data or {}).items():
        percents, regain = [], 0.0
        for entry in entries if isinstance(entries, list) else [entries]:
            if not isinstance(entry, dict):
                continue
            pct = _percent(entry)
            if pct is not None:
                percents.append(pct)
            minutes = entry.get("estimated_time_to_regain_access")
            if isinstance(minutes, (int, float)):
                regain = max(regain, float(minutes))
        found[str(object_id)] = Usage(percent=max(percents) if percents else None,
                                      regain_at=now + timedelta(minutes=regain) if regain else None)
    return found


def parse_x_rate_limit(headers: Mapping[str, str]) -> Usage | None:
    def number(name):
        try:
            return int(headers.get(name))
        except (TypeError, ValueError):
            return None

    limit, remaining, reset = (number("x-rate-limit-limit"), number("x-rate-limit-remaining"),
                               number("x-rate-limit-reset"))
    if limit is None and remaining is None and reset is None:
        return None
    percent = 100.0 * (limit - remaining) / limit if limit and remaining is not None else None
    reset_at = datetime.fromtimestamp(reset, tz=timezone.utc) if reset else None
    return Usage(percent=percent, remaining=remaining, limit=limit, reset_at=reset_at)
