"""What Facebook Pages and Instagram share: the Graph host, Facebook Login, tokens and errors."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import datetime, timedelta
from urllib.parse import urlencode

import requests

from . import usage
from .base import Account, Credentials, PlatformAdapter, TokenSet, chunked, setting, utcnow
from .errors import (
    AuthExpired,
    DuplicateContent,
    InvalidContent,
    NotFound,
    PermissionMissing,
    PlatformError,
    ProcessingPending,
    RateLimited,
    TransientError,
)

logger = logging.getLogger("platforms")

TRANSIENT_CODES = {1, 2, 341, 368}
# 4 app, 17 user, 32 page, 613 custom; 80000-80014 are the Business Use Case throttles (80001 Pages,
# 80002 Instagram, ...): Meta says calls made while throttled prolong it, so wait for the regain time.
BUC_THROTTLE_CODES = {80000, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009, 80014}
THROTTLE_CODES = {4, 17, 32, 613} | BUC_THROTTLE_CODES
AUTH_CODES = {190, 102}
GRAPH_BATCH = 50


class GraphAdapter(PlatformAdapter):
    """Base for adapters speaking the Graph API with Facebook Login (no refresh tokens)."""

    client_id_setting = "FACEBOOK_APP_ID"
    client_secret_setting = "FACEBOOK_APP_SECRET"
    max_batch = GRAPH_BATCH
    long_lived_tokens = True  # Page tokens do not expire: checked once a day, never refreshed
    recent_page_size = 100
    can_revoke = False  # revoking a Page token means removing the app for every Page of the person

    # ------------------------------------------------------------ URLs

    def version(self) -> str:
        return setting("FACEBOOK_GRAPH_VERSION", "v25.0")

    def graph_url(self, path: str = "") -> str:
        base = setting("FACEBOOK_GRAPH_URL", "https://graph.facebook.com").rstrip("/")
        return f"{base}/{self.version()}/{path.lstrip('/')}"

    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str | None = None) -> str:
        dialog = setting("FACEBOOK_DIALOG_URL", "https://www.facebook.com").rstrip("/")
        query = urlencode({"client_id": self.client_id, "redirect_uri": redirect_uri, "state": state,
                           "scope": ",".join(self.scopes), "response_type": "code"})
        return f"{dialog}/{self.version()}/dialog/oauth?{query}"

    # ------------------------------------------------------------ calls

    def get(self, path: str, *, token: str, account_id: str | None = None, **params) -> dict:
        return self.json_of(self.request("GET", self.graph_url(path), token=token, account_id=account_id,
                                         params=params or None))

    def post(self, path: str, *, token: str, account_id: str | None = None, data: dict | None = None,
             json: dict | None = None) -> dict:
        return self.json_of(self.request("POST", self.graph_url(path), token=token, account_id=account_id,
                                         data=data, json=json))

    def record_usage(self, response: requests.Response, account_id: str | None) -> None:
        app = usage.parse_app_usage(response.headers)
        if app is not None:
            for platform in ("FACEBOOK", "INSTAGRAM"):
                usage.record(platform, None, app)
        for object_id, found in usage.parse_business_usage(response.headers).items():
            usage.record(self.platform, object_id, found)

    # ------------------------------------------------------------ errors

    def map_error(self, response: requests.Response) -> PlatformError:
        body = self.body_of(response)
        error = body.get("error") if isinstance(body, dict) else None
        status = response.status_code
        if not isinstance(error, dict):
            if status >= 500 or status in (408, 429):
                return self.transient_for_status(response)
            if status == 404:
                return NotFound(f"{self.display_name} no longer has this item.", platform=self.platform,
                                status=status)
            return PlatformError(f"{self.display_name} refused the request (HTTP {status}).",
                                 platform=self.platform, status=status)
        try:
            code = int(error.get("code"))
        except (TypeError, ValueError):
            code = None
        subcode = error.get("error_subcode")
        said = error.get("error_user_msg") or error.get("message") or "no explanation given"
        name = self.display_name
        common = {"platform": self.platform, "status": status, "code": code}

        if response.request is not None and "/oauth/" in (response.request.path_url or "") and status < 500:
            return PlatformError(f"{name} did not accept the authorization; connect again. ({said})", **common)
        if code == 9 and subcode in (2207042, "2207042"):
            wait = float(setting("INSTAGRAM_QUOTA_RESET_DEFAULT", 3600))
            return RateLimited(f"{name} allows only a limited number of posts a day and this account has reached "
                               f"it; it will be tried again later. ({said})",
                               reset_at=utcnow() + timedelta(seconds=wait), retry_after=wait, **common)
        if code in THROTTLE_CODES:
            reset_at = self.regain_at(response) or utcnow() + timedelta(
                seconds=float(setting("GRAPH_RATE_LIMIT_DEFAULT_WAIT", 900)))
            return RateLimited(f"{name} asks us to slow down (too many calls); it will be tried again later. "
                               f"({said})", reset_at=reset_at,
                               retry_after=max(0.0, (reset_at - utcnow()).total_seconds()), **common)
        if code in TRANSIENT_CODES or code in (9004, 9007) or status >= 500:
            return TransientError(f"{name} had a temporary problem; it will be tried again. ({said})", **common)
        if code in AUTH_CODES:
            return AuthExpired(f"The {name} connection has expired or was revoked; reconnect the account. "
                               f"({said})", **common)
        if code == 10 or (code is not None and 200 <= code <= 299):
            return PermissionMissing(f"{self.permission_refusal(said)} ({said})", **common)
        if code == 506:
            return DuplicateContent(f"{name} refuses a post identical to a recent one. ({said})", **common)
        if code == 803 or (code == 100 and (subcode in (33, "33") or "not exist" in said)):
            return NotFound(f"{name} no longer has this item. ({said})", **common)
        if code in (100, 324, 1609005) or status == 400:
            field_name = "media" if code == 324 else "link" if code == 1609005 else "text"
            message = f"{name} refused the content: {said}"
            return InvalidContent(message, violations=[self.violation(field_name, message)], **common)
        return PlatformError(f"{name} refused the request: {said}", **common)

    @staticmethod
    def regain_at(response: requests.Response) -> datetime | None:
        moments = [u.regain_at for u in usage.parse_business_usage(response.headers).values() if u.regain_at]
        return max(moments) if moments else None

    # ------------------------------------------------------------ OAuth

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None = None) -> TokenSet:
        short = self.json_of(self.request("GET", self.graph_url("oauth/access_token"), params={
            "client_id": self.client_id, "redirect_uri": redirect_uri, "client_secret": self.client_secret,
            "code": code}, secrets=(code,)))
        short_token = short.get("access_token")
        if not short_token:
            raise AuthExpired(f"{self.display_name} did not return an access token; connect again.",
                              platform=self.platform)
        long = self.json_of(self.request("GET", self.graph_url("oauth/access_token"), params={
            "grant_type": "fb_exchange_token", "client_id": self.client_id, "client_secret": self.client_secret,
            "fb_exchange_token": short_token}, secrets=(short_token,)))
        token = long.get("access_token") or short_token
        expires_in = long.get("expires_in") if long.get("access_token") else short.get("expires_in")
        return TokenSet(access_token=token, refresh_token=None,
                        expires_at=utcnow() + timedelta(seconds=int(expires_in)) if expires_in else None,
                        scopes=self.granted_permissions(token))

    def granted_permissions(self, user_token: str) -> list[str]:
        data = self.get("me/permissions", token=user_token).get("data", [])
        return [p["permission"] for p in data if p.get("status") == "granted" and p.get("permission")]

    def managed_pages(self, user_token: str) -> list[dict]:
        pages, params = [], {"fields": "id,name,access_token,category,tasks", "limit": 100}
        for _ in range(20):  # a person manages a handful of Pages; stop runaway paging
            body = self.get("me/accounts", token=user_token, **params)
            pages.extend(body.get("data", []))
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not (paging.get("next") and after):
                break
            params["after"] = after
        return pages

    def refresh(self, *, credentials: Credentials) -> TokenSet:
        """Graph page tokens do not refresh: check the token still works and hand it back."""
        self.get(credentials.account_id, token=credentials.access_token, account_id=credentials.account_id,
                 fields="id")
        return TokenSet(access_token=credentials.access_token, refresh_token=None, expires_at=None,
                        scopes=list(credentials.details.get("permissions", [])))

    def revoke(self, *, credentials: Credentials) -> None:
        """A Page token cannot be revoked on its own: removing the app's permissions would cut
        off every Page the person connected. Staff remove the app in their Facebook settings."""
        logger.info("%s: nothing to revoke at the platform for account %s", self.slug, credentials.account_id)

    # ------------------------------------------------------------ reading

    # Insight refusals that concern one object only (Instagram's "(#10) not enough viewers"): the
    # others of the batch are then asked one by one. Any other refusal concerns them all.
    per_item_insight_codes: frozenset[str] = frozenset()

    def batch_get(self, ids: list[str], *, fields: str, token: str, account_id: str | None,
                  insights: str | None = None, period: str | None = None) -> dict[str, dict]:
        """`GET /?ids=` in batches; ids the platform no longer has are left out.

        With `insights` (metric names, comma-separated) each item also carries its insight values
        by name under "insights", read through field expansion in the same call. Graph fails the
        whole batch when one item's insights are refused; the batch is then read again for its
        counts, and its insights are either unavailable (None: a missing permission, a Page too
        small for insights, a removed metric) or, when the refusal concerns one object only, asked
        object by object so one refusal never hides the others' values."""
        found: dict[str, dict] = {}
        for batch in chunked(list(ids), GRAPH_BATCH):
            if not insights:
                found.update(self.read_batch(batch, fields, token=token, account_id=account_id))
                continue
            expansion = f"insights.metric({insights})" + (f".period({period})" if period else "")
            try:
                items = self.read_batch(batch, f"{fields},{expansion}", token=token, account_id=account_id)
            except (InvalidContent, PermissionMissing) as exc:
                logger.info("%s: insights refused for a batch of %d items (%s %s)", self.slug, len(batch),
                            type(exc).__name__, exc.code)
                items = self.read_batch(batch, fields, token=token, account_id=account_id)
                per_item = exc.code in self.per_item_insight_codes
                for object_id, item in items.items():
                    values = None
                    if per_item:
                        values, per_item = self.item_insights(object_id, insights, period, token=token,
                                                              account_id=account_id)
                    found[object_id] = {**item, "insights": values}
                continue
            for object_id, item in items.items():
                found[object_id] = {**item, "insights": self.insight_values(item.get("insights"))}
        return found

    def item_insights(self, object_id: str, insights: str, period: str | None, *, token: str,
                      account_id: str | None) -> tuple[dict | None, bool]:
        """One object's insights (None when refused) and whether to go on asking object by object."""
        params = {"metric": insights, **({"period": period} if period else {})}
        try:
            return self.insight_values(self.get(f"{object_id}/insights", token=token, account_id=account_id,
                                                **params)), True
        except (InvalidContent, PermissionMissing, NotFound) as exc:
            return None, exc.code in self.per_item_insight_codes

    def read_batch(self, batch: list[str], fields: str, *, token: str, account_id: str | None) -> dict[str, dict]:
        try:
            body = self.get("", token=token, account_id=account_id, ids=",".join(batch), fields=fields)
            return {k: v for k, v in body.items() if isinstance(v, dict)}
        except NotFound:  # one missing id fails the whole batch: ask one by one
            found = {}
            for object_id in batch:
                try:
                    found[object_id] = self.get(object_id, token=token, account_id=account_id, fields=fields)
                except NotFound:
                    continue
            return found

    @staticmethod
    def insight_values(body: dict | None) -> dict[str, int]:
        """Insight values by name from an insights answer (`/{id}/insights` or the `insights` field)."""
        values = {}
        for entry in body.get("data", []) if isinstance(body, dict) else []:
            points = entry.get("values") or []
            value = points[-1].get("value") if points else (entry.get("total_value") or {}).get("value")
            if isinstance(value, (int, float)):
                values[entry.get("name")] = int(value)
        return values

    def permalink(self, object_id: str, field_name: str, *, token: str, account_id: str) -> str | None:
        """The public URL as the platform gives it; the post exists either way, so never raise."""
        try:
            return self.get(object_id, token=token, account_id=account_id, fields=field_name).get(field_name)
        except PlatformError as exc:
            logger.warning("%s: published %s but could not read its URL (%s)", self.slug, object_id,
                           type(exc).__name__)
            return None

    # ------------------------------------------------------------ media the platform processes

    @staticmethod
    def fingerprint(*parts) -> str:
        """Identifies the content a stored container or video was made from (an edited post starts over)."""
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def await_processing(self, what: str, check, progress: dict, checkpoint, *, images_only: bool = False,
                         resumable: bool = False) -> None:
        """Poll `check()` (True once ready; it raises on a failure) with backoff.

        Never polls faster than MEDIA_PROCESSING_POLL_INTERVAL (default 5 s), doubling up to
        MEDIA_PROCESSING_POLL_MAX_INTERVAL. One call waits at most MEDIA_PROCESSING_WAIT_IN_CALL,
        then raises ProcessingPending so the worker is freed and the post resumes later with the
        same media; after MEDIA_PROCESSING_TIMEOUT (default 10 min) of processing it gives up for
        this attempt (a TransientError, counted like any other failed attempt).

        Still images (``images_only``) are usually ready within a second or two, and a publish
        process waiting on one holds a worker that other due posts wait for: they are polled from
        MEDIA_PROCESSING_IMAGE_POLL_INTERVAL (default 1 s) instead, doubling the same way. When the caller
        can resume (``resumable``: the publisher, which saves ``progress``), an image that is not ready
        at once is not waited for in the call at all (MEDIA_PROCESSING_IMAGE_WAIT_IN_CALL, default 0):
        ProcessingPending hands the worker back and a later task polls it again."""
        interval = float(setting("MEDIA_PROCESSING_POLL_INTERVAL", 5.0))
        if images_only:
            interval = min(interval, float(setting("MEDIA_PROCESSING_IMAGE_POLL_INTERVAL", 1.0)))
        longest = max(interval, float(setting("MEDIA_PROCESSING_POLL_MAX_INTERVAL", 60.0)))
        in_call = float(setting("MEDIA_PROCESSING_WAIT_IN_CALL", 20.0))
        if images_only and resumable:
            in_call = min(in_call, float(setting("MEDIA_PROCESSING_IMAGE_WAIT_IN_CALL", 0.0)))
        call_deadline = time.monotonic() + in_call
        timeout = float(setting("MEDIA_PROCESSING_TIMEOUT", 600.0))
        waiting = progress.setdefault("waiting", {"since": time.time(), "polls": 0})
        while True:
            if check():
                progress.pop("waiting", None)  # saved with the next step's checkpoint
                return
            waiting["polls"] += 1
            if time.time() - waiting["since"] > timeout:
                progress.pop("waiting", None)
                checkpoint()
                raise TransientError(f"{self.display_name} was still processing {what} after "
                                     f"{timeout / 60:g} minutes; it will be checked again later.",
                                     platform=self.platform, code="IN_PROGRESS")
            checkpoint()
            delay = min(longest, interval * 2 ** min(waiting["polls"] - 1, 16))
            if time.monotonic() + delay > call_deadline:
                raise ProcessingPending(f"{self.display_name} is still processing {what}; publishing resumes "
                                        "when it is ready.", retry_after=delay, platform=self.platform,
                                        code="IN_PROGRESS")
            time.sleep(delay)

    def account_for_page(self, page: dict, granted: list[str], **overrides) -> Account:
        permissions, missing = self.permission_split(granted)
        tasks = page.get("tasks") or []
        can_create = "CREATE_CONTENT" in tasks or "MANAGE" in tasks
        reason = ""
        if missing:
            reason = self.missing_permissions_reason(missing)
        elif not can_create:
            reason = "Your role on this Page cannot create content."
        values = dict(account_id=str(page["id"]), name=page.get("name", ""), account_type=self.account_type,
                      access_token=page.get("access_token", ""), refresh_token=None, expires_at=None,
                      permissions=permissions, missing_permissions=missing,
                      details={"page_id": str(page["id"]), "category": page.get("category", ""), "tasks": tasks},
                      can_publish=not reason, reason=reason)
        values.update(overrides)
        return Account(**values)


def graph_next_cursor(body: dict) -> str | None:
    """Graph's cursor paging: the ``after`` cursor, only while ``paging.next`` says there is another page."""
    paging = body.get("paging") or {}
    if not paging.get("next"):
        return None
    return (paging.get("cursors") or {}).get("after")

