"""The OAuth connect flow: single-use server-side state, code exchange, picking accounts."""

import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from connections import vault
from connections.models import OAuthAttempt, SocialConnection
from crm.tenancy import allowed_club_ids, scope_queryset
from platforms import PlatformError, adapter_for_slug, get_adapter
from platforms.errors import split_platform_words
from posts.services import posts_unblock_after_reconnect

logger = logging.getLogger("connections")


class OAuthFailure(Exception):
    """The connect flow cannot go on; ``message`` is written for club staff.

    ``detail`` is what the platform said (shown apart, never as the message); ``said_by`` names who said it.
    """

    def __init__(self, message, *, title="Connection not completed", detail="", said_by=""):
        self.title = title
        self.message = message
        self.detail = detail
        self.said_by = said_by
        super().__init__(message)


@dataclass
class OfferedAccount:
    account_id: str
    name: str
    account_type: str
    permissions: list
    missing_permissions: list
    details: dict
    can_publish: bool
    reason: str
    connected: SocialConnection | None = None
    # the missing permissions by the names the platform's consent screen gives them (never scope codes)
    missing_labels: list = field(default_factory=list)


def _reveal(attempt, field):
    try:
        return attempt.reveal(field)
    except vault.VaultError:  # sealed under a key that has since been removed
        raise OAuthFailure("This sign-in can no longer be read. Please start connecting again.") from None


def callback_url(slug):
    return settings.SITE_URL + reverse("connections:callback", args=[slug])


def known_adapter(slug):
    try:
        return adapter_for_slug(slug)
    except (KeyError, LookupError):
        raise OAuthFailure(f"“{slug}” is not a platform SocialCRM can connect.", title="Unknown platform") from None


def oauth_begin(*, user, session_key, tenant, slug, reconnect=None):
    """Start connecting ``slug``: store a single-use state (and PKCE verifier) and return the consent URL."""
    adapter = known_adapter(slug)
    if not adapter.client_id:
        raise OAuthFailure(
            f"{adapter.display_name} is not set up yet: an administrator must configure its app credentials.",
            title="Platform not configured",
        )
    attempt = OAuthAttempt(
        state=secrets.token_urlsafe(32), tenant=tenant, user=user, session_key=session_key,
        platform=adapter.platform, redirect_uri=callback_url(slug),
    )
    verifier = adapter.new_code_verifier()
    attempt.seal("code_verifier", verifier)
    if reconnect is not None:
        attempt.seal("offered_accounts", json.dumps({"reconnect": str(reconnect.pk)}))
    attempt.save()
    return adapter.authorization_url(redirect_uri=attempt.redirect_uri, state=attempt.state, code_verifier=verifier)


def _claim_attempt(*, user, session_key, slug, state):
    """Find the attempt this callback belongs to and mark it used, exactly once."""
    adapter = known_adapter(slug)
    oldest = timezone.now() - timedelta(seconds=settings.OAUTH_STATE_TTL_SECONDS)
    if not state:
        raise OAuthFailure("The platform sent us back without the security code we gave it. Please start again.")
    claimed = OAuthAttempt.objects.filter(
        state=state, user=user, session_key=session_key, platform=adapter.platform, used_at__isnull=True,
        created_at__gte=oldest,
    ).update(used_at=timezone.now())
    if claimed != 1:
        raise OAuthFailure(
            "This sign-in link has expired, was already used, or was started in another browser session. "
            "Please start connecting again from the Connections page.",
            title="Sign-in link no longer valid",
        )
    return adapter, OAuthAttempt.objects.get(state=state)


def oauth_callback(*, user, session_key, slug, params):
    """Handle the platform's redirect: check state, exchange the code, store the accounts offered."""
    adapter, attempt = _claim_attempt(user=user, session_key=session_key, slug=slug, state=params.get("state", ""))
    if params.get("error"):
        denied = params.get("error") in {"access_denied", "user_cancelled_authorize", "user_cancelled_login"}
        if denied:
            raise OAuthFailure(f"{adapter.display_name} access was not granted, so nothing was connected. "
                               "To connect, start again and choose Allow.", title="Access denied")
        raise OAuthFailure(
            f"{adapter.display_name} could not complete the sign-in, so nothing was connected. "
            "Please start connecting again.",
            detail=params.get("error_description") or params.get("error"), said_by=adapter.display_name,
        )
    code = params.get("code", "")
    if not code:
        raise OAuthFailure(f"{adapter.display_name} did not send an authorization code. Please start again.")
    previous = _reveal(attempt, "offered_accounts")
    reconnect_id = json.loads(previous).get("reconnect") if previous else None
    try:
        tokens = adapter.exchange_code(code=code, redirect_uri=attempt.redirect_uri,
                                       code_verifier=_reveal(attempt, "code_verifier"))
        accounts = adapter.list_accounts(tokens=tokens)
    except PlatformError as exc:
        logger.info("oauth exchange failed", extra={"platform": adapter.platform, "tenant_id": attempt.tenant_id})
        sentence, said = split_platform_words(exc.message)
        raise OAuthFailure(
            f"{adapter.display_name} refused the sign-in. "
            "The code may have expired or been used already; please start connecting again.",
            detail=said or sentence, said_by=adapter.display_name,
        ) from None
    offer = {
        "reconnect": reconnect_id,
        "refresh_expires_at": tokens.refresh_expires_at.isoformat() if tokens.refresh_expires_at else None,
        "accounts": [
            {"account_id": a.account_id, "name": a.name, "account_type": a.account_type,
             "access_token": a.access_token, "refresh_token": a.refresh_token,
             "expires_at": a.expires_at.isoformat() if a.expires_at else None,
             "permissions": list(a.permissions), "missing_permissions": list(a.missing_permissions),
             "details": a.details, "can_publish": a.can_publish, "reason": a.reason}
            for a in accounts
        ],
    }
    if reconnect_id:
        _record_granted_permissions(user=user, attempt=attempt, connection_id=reconnect_id, accounts=accounts)
    attempt.seal("offered_accounts", json.dumps(offer))
    attempt.code_verifier = None
    attempt.save(update_fields=["offered_accounts", "code_verifier"])
    return attempt


def _record_granted_permissions(*, user, attempt, connection_id, accounts):
    """On a reconnect, what the platform now grants is true of the connection being reconnected, picked or not.

    Leaving a permission out on the consent page (say Facebook's pages_manage_posts) takes it away on the
    platform too, so the connection must stop looking healthy even when it cannot be picked again. Only the
    connection staff asked to reconnect, and only one they may manage, is touched.
    """
    granted = {account.account_id: list(account.permissions) for account in accounts}
    connection = scope_queryset(SocialConnection.objects.filter(
        pk=connection_id, tenant_id=attempt.tenant_id, platform=attempt.platform, account_id__in=list(granted)), user
    ).first()
    if connection is None or not _may_move(user=user, connection=connection):
        return
    SocialConnection.objects.filter(pk=connection.pk).update(
        permissions=granted[connection.account_id], updated_at=timezone.now())


def _open_offer(*, user, session_key, attempt_id):
    oldest = timezone.now() - timedelta(seconds=settings.OAUTH_STATE_TTL_SECONDS)
    attempt = OAuthAttempt.objects.filter(
        pk=attempt_id, user=user, session_key=session_key, used_at__isnull=False, completed_at__isnull=True,
        created_at__gte=oldest, offered_accounts__isnull=False,
    ).first()
    if attempt is None:
        raise OAuthFailure("This list of accounts is no longer available. Please start connecting again.",
                           title="Sign-in link no longer valid")
    offer = json.loads(_reveal(attempt, "offered_accounts"))
    if "accounts" not in offer:
        raise OAuthFailure("This sign-in was not completed. Please start connecting again.")
    return attempt, offer


def oauth_offer(*, user, session_key, attempt_id):
    """The accounts staff can pick from (no tokens), with those already connected marked."""
    attempt, offer = _open_offer(user=user, session_key=session_key, attempt_id=attempt_id)
    # Only connections the user may see are marked; another club's stays out of sight.
    existing = {c.account_id: c for c in scope_queryset(SocialConnection.objects.filter(
        tenant_id=attempt.tenant_id, platform=attempt.platform,
        account_id__in=[a["account_id"] for a in offer["accounts"]]), user)}
    adapter = get_adapter(attempt.platform)
    accounts = [
        OfferedAccount(
            account_id=a["account_id"], name=a["name"], account_type=a["account_type"], permissions=a["permissions"],
            missing_permissions=a["missing_permissions"], details=a["details"], can_publish=a["can_publish"],
            reason=a["reason"], connected=existing.get(a["account_id"]),
            missing_labels=[adapter.permission_label(code) for code in a["missing_permissions"]],
        )
        for a in offer["accounts"]
    ]
    return attempt, accounts, offer.get("reconnect")


def _may_move(*, user, connection):
    """Staff limited to some clubs may move only a connection of one of their clubs."""
    club_ids = allowed_club_ids(user)
    return club_ids is None or connection.club_id in club_ids


@transaction.atomic
def connection_connect_accounts(*, user, session_key, attempt_id, picks, clubs_allowed):
    """Create or update one SocialConnection per picked account: ``picks`` maps account id → club id or "".

    A reconnect updates the existing row (same tenant, platform, account) and reactivates it. Staff
    limited to some clubs cannot move a connection of another club, or a tenant-wide one, to another club:
    the whole pick is refused and every existing connection stays as it was.
    """
    attempt, offer = _open_offer(user=user, session_key=session_key, attempt_id=attempt_id)
    by_id = {a["account_id"]: a for a in offer["accounts"]}
    unknown = [account_id for account_id in picks if account_id not in by_id]
    if unknown or not picks:
        raise OAuthFailure("Pick at least one of the accounts listed.", title="Nothing picked")
    clubs = {club.pk: club for club in clubs_allowed}
    refresh_expiry = offer.get("refresh_expires_at")
    saved = []
    for account_id, club_id in picks.items():
        if club_id and club_id not in clubs:
            raise OAuthFailure("Pick one of your clubs, or “All clubs”.", title="Unknown club")
        account = by_id[account_id]
        connection = SocialConnection.objects.select_for_update().filter(
            tenant_id=attempt.tenant_id, platform=attempt.platform, account_id=account_id).first()
        if connection is None:
            connection = SocialConnection(tenant_id=attempt.tenant_id, platform=attempt.platform, account_id=account_id)
        new_club_id = club_id or None
        if connection.pk and connection.club_id != new_club_id and not _may_move(user=user, connection=connection):
            raise OAuthFailure(
                f"{account['name']} is already connected for "
                f"{'the whole organisation' if connection.club_id is None else 'another club'}; "
                "only a tenant admin or staff of that club can move it. Nothing was changed.",
                title="Connection belongs elsewhere",
            )
        connection.club = clubs.get(club_id) if club_id else None
        connection.account_name = account["name"]
        connection.account_type = account["account_type"]
        connection.account_details = account["details"]
        connection.permissions = account["permissions"]
        connection.set_tokens(access_token=account["access_token"], refresh_token=account["refresh_token"])
        connection.token_expiry = datetime.fromisoformat(account["expires_at"]) if account["expires_at"] else None
        connection.refresh_token_expiry = (
            datetime.fromisoformat(refresh_expiry) if refresh_expiry and account["refresh_token"] else None
        )
        connection.is_active = True
        connection.last_error = None
        connection.last_error_at = None
        connection.token_checked_at = timezone.now()
        connection.last_used_at = timezone.now()  # the sign-in itself just called the platform
        connection.connected_by = user.get_username()
        connection.save()
        posts_unblock_after_reconnect(connection=connection)
        saved.append(connection)
    attempt.offered_accounts = None
    attempt.completed_at = timezone.now()
    attempt.save(update_fields=["offered_accounts", "completed_at"])
    logger.info("accounts connected", extra={"platform": attempt.platform, "tenant_id": attempt.tenant_id,
                                             "connections": [str(c.pk) for c in saved]})
    return saved


def oauth_attempts_purge(*, now=None):
    """Delete sign-in attempts past their life (OAUTH_STATE_TTL_SECONDS) with the tokens they hold.

    Past that age neither the callback nor the account picker accepts them, so nothing is lost.
    Returns how many were deleted.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.OAUTH_STATE_TTL_SECONDS)
    deleted, _ = OAuthAttempt.objects.filter(created_at__lt=cutoff).delete()
    if deleted:
        logger.info("purged expired OAuth attempts", extra={"count": deleted})
    return deleted
