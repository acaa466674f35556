import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.apps import apps
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from connections import vault
from connections.models import SocialConnection
from crm.history import acting, history_record
from platforms import (
    AuthExpired,
    Credentials,
    DuplicateContent,
    InvalidContent,
    PlatformError,
    adapters_where,
    all_adapters,
    get_adapter,
)
from platforms.errors import split_platform_words

logger = logging.getLogger("connections")

# Sent with ``connection`` when it stops working and staff must reconnect it; notifications listen.
connection_needs_reconnect = Signal()


@dataclass
class FieldRotation:
    rotated: int = 0
    already_current: int = 0
    failed: list = field(default_factory=list)


@dataclass
class RotationReport:
    key_id: str
    fields: dict = field(default_factory=dict)  # "app.Model.field" -> FieldRotation

    @property
    def failed(self):
        return [(label, pk) for label, counts in self.fields.items() for pk in counts.failed]


def sealed_fields():
    """Every model with vault-sealed columns, with those columns: found by field class, across all apps."""
    found = {}
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, vault.SealedTextField)]
        if names:
            found[model] = names
    return found


def vault_rotate_keys(*, batch_size=200):
    """Re-encrypt every sealed value in the database under the first configured key.

    Each row is locked and rewritten in its own transaction, so a failure leaves no half-written row;
    a value no configured key can open is left as it is and reported.
    """
    key_id = vault.configured_keys()[0].key_id
    report = RotationReport(key_id=key_id)
    for model, names in sealed_fields().items():
        for name in names:
            report.fields[f"{model._meta.label}.{name}"] = FieldRotation()
        holding = Q()
        for name in names:
            holding |= Q(**{f"{name}__isnull": False}) & ~Q(**{name: ""})
        ids = list(model._base_manager.filter(holding).order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), batch_size):
            for pk in ids[start:start + batch_size]:
                with transaction.atomic():
                    row = model._base_manager.select_for_update().filter(pk=pk).values(*names).first()
                    if row is None:
                        continue
                    changes = {}
                    for name in names:
                        stored, counts = row[name], report.fields[f"{model._meta.label}.{name}"]
                        if not stored:
                            continue
                        if vault.key_id_of(stored) == key_id:
                            counts.already_current += 1
                            continue
                        context = vault.context_for(model, pk, name)
                        try:
                            changes[name] = vault.encrypt(vault.decrypt(stored, context=context), context=context)
                        except vault.VaultError:
                            counts.failed.append(pk)
                            continue
                        counts.rotated += 1
                    if changes:
                        model._base_manager.filter(pk=pk).update(**changes)
    return report


# ----------------------------------------------------------------------------- platform calls


class ConnectionUnusable(Exception):
    """The connection is inactive and needs staff to reconnect it."""

    def __init__(self, connection):
        self.connection_id = connection.pk
        super().__init__(
            f"{connection.get_platform_display()} account “{connection.account_name}” needs reconnecting"
            + (f": {connection.last_error}" if connection.last_error else ".")
        )


class TokenUnreadable(AuthExpired):
    """The stored tokens cannot be decrypted (key removed, value damaged): only reconnecting helps."""


UNREADABLE_MESSAGE = ("The stored sign-in for this account could not be read (its encryption key is no longer "
                      "configured or the value is damaged). Reconnect the account to keep publishing.")


def connection_credentials(*, connection):
    """Decrypt the tokens for a platform call. The only place tokens leave the vault.

    A token the vault cannot open is final: the connection is marked as needing reconnection and
    TokenUnreadable (an AuthExpired) is raised, so callers settle their work instead of retrying.
    """
    try:
        access_token, refresh_token = connection.reveal_access_token(), connection.reveal_refresh_token()
    except vault.VaultError:
        connection_mark_needs_reconnect(connection=connection, reason=UNREADABLE_MESSAGE)
        raise TokenUnreadable(UNREADABLE_MESSAGE, platform=connection.platform) from None
    return Credentials(
        account_id=connection.account_id,
        access_token=access_token,
        refresh_token=refresh_token,
        details=dict(connection.account_details or {}),
    )


LAST_USED_PRECISION = timedelta(minutes=1)


def connection_record_use(*, connection):
    """"Last used" is kept to the minute: a connection publishing many posts in a rush writes its row once
    a minute, not once per post."""
    now = timezone.now()
    if connection.last_used_at and timedelta(0) <= now - connection.last_used_at < LAST_USED_PRECISION:
        return
    SocialConnection.objects.filter(pk=connection.pk).update(last_used_at=now)
    connection.last_used_at = now


def connection_record_error(*, connection, message):
    now = timezone.now()
    SocialConnection.objects.filter(pk=connection.pk).update(last_error=message, last_error_at=now)
    connection.last_error, connection.last_error_at = message, now


def connection_mark_needs_reconnect(*, connection, reason):
    now = timezone.now()
    SocialConnection.objects.filter(pk=connection.pk).update(is_active=False, last_error=reason, last_error_at=now)
    history_record(connection, action="marked it as needing reconnection", by=None)
    connection.is_active, connection.last_error, connection.last_error_at = False, reason, now
    connection_needs_reconnect.send(sender=SocialConnection, connection=connection)
    logger.warning("connection needs reconnecting", extra={"connection_id": str(connection.pk), "tenant_id": connection.tenant_id})


def connection_refresh_tokens(*, connection):
    """Refresh the connection's tokens under a row lock and save the new pair in one write.

    X refresh tokens are single-use and rotate: the lock makes sure two workers never spend
    the same refresh token, and the rotated pair is stored atomically with its expiry.
    Raises AuthExpired (after marking the connection) when the platform refuses for good.
    """
    adapter = get_adapter(connection.platform)
    with transaction.atomic():
        locked = SocialConnection.objects.select_for_update().get(pk=connection.pk)
        if locked.access_token != connection.access_token:
            # Another worker refreshed while we waited for the lock: use its tokens.
            connection.__dict__.update({f: getattr(locked, f) for f in ("access_token", "refresh_token", "token_expiry")})
            return connection
        try:
            tokens = adapter.refresh(credentials=connection_credentials(connection=locked))
        except AuthExpired as exc:
            locked.is_active, locked.last_error, locked.last_error_at = False, exc.message, timezone.now()
            with acting(None, "marked it as needing reconnection"):
                locked.save(update_fields=["is_active", "last_error", "last_error_at", "updated_at"])
            connection.is_active, connection.last_error = False, exc.message
            raise
        locked.set_tokens(access_token=tokens.access_token, refresh_token=tokens.refresh_token or locked.reveal_refresh_token())
        locked.token_expiry = tokens.expires_at
        if tokens.refresh_expires_at:
            locked.refresh_token_expiry = tokens.refresh_expires_at
        locked.last_used_at = timezone.now()
        with acting(None, "renewed its access"):
            locked.save(update_fields=["access_token", "refresh_token", "token_expiry", "refresh_token_expiry",
                                       "last_used_at", "updated_at"])
    connection.__dict__.update(
        {f: getattr(locked, f) for f in ("access_token", "refresh_token", "token_expiry", "refresh_token_expiry", "last_used_at")}
    )
    return connection


# Refusals of one post's content: the connection itself works.
CONTENT_ERRORS = (InvalidContent, DuplicateContent)


@contextmanager
def recording_platform_failures(connection):
    """Record a platform failure on the connection: an auth failure means it needs reconnecting."""
    try:
        yield
    except AuthExpired as exc:
        connection_mark_needs_reconnect(connection=connection, reason=exc.message)
        raise
    except CONTENT_ERRORS:
        raise
    except PlatformError as exc:
        connection_record_error(connection=connection, message=exc.message)
        raise


def connection_call(*, connection, operation):
    """Run ``operation(adapter, credentials)`` against the platform for this connection.

    Records use and errors on the connection. On an auth failure: refresh once and retry once;
    if that fails too, the connection is marked as needing reconnection and AuthExpired is raised.
    """
    if not connection.is_active:
        raise ConnectionUnusable(connection)
    adapter = get_adapter(connection.platform)
    credentials = connection_credentials(connection=connection)  # unreadable tokens: no refresh can help
    try:
        result = operation(adapter, credentials)
    except AuthExpired:
        with recording_platform_failures(connection):
            connection_refresh_tokens(connection=connection)
            result = operation(adapter, connection_credentials(connection=connection))
    except CONTENT_ERRORS:
        # The platform answered and refused this post's content: the post's error, not the connection's.
        connection_record_use(connection=connection)
        raise
    except PlatformError as exc:
        connection_record_error(connection=connection, message=exc.message)
        raise
    connection_record_use(connection=connection)
    return result


# ----------------------------------------------------------------------------- keeping tokens fresh


def _due_for_refresh(*, now=None):
    now = now or timezone.now()
    rotating = Q(pk__in=[])
    for adapter in all_adapters():
        seconds = adapter.refresh_ahead_seconds()
        if seconds is not None:
            rotating |= Q(platform=adapter.platform, token_expiry__lte=now + timedelta(seconds=seconds))
    long_lived = [adapter.platform for adapter in adapters_where(lambda adapter: adapter.long_lived_tokens)]
    long_lived_check = Q(platform__in=long_lived) & (
        Q(token_checked_at__isnull=True) | Q(token_checked_at__lte=now - timedelta(hours=24))
    )
    # Rotating tokens need a refresh token; without one (LinkedIn non-partners) staff are warned instead.
    return SocialConnection.objects.filter(is_active=True).filter(
        (rotating & Q(refresh_token__isnull=False)) | long_lived_check
    )


def connections_due_for_refresh(*, now=None):
    """(id, tenant id) of active connections whose token should be refreshed or checked now."""
    return list(_due_for_refresh(now=now).order_by("token_expiry", "pk").values_list("pk", "tenant_id"))


def connection_keep_fresh(*, connection):
    """Refresh (X, LinkedIn) or check (Facebook, Instagram) one connection's token.

    Returns "refreshed" or "not-needed", or raises the platform error. An AuthExpired marks the
    connection as needing reconnection with the platform's reason; a temporary failure is
    recorded and tried again on the next round.
    """
    if not _due_for_refresh().filter(pk=connection.pk).exists():
        return "not-needed"
    with recording_platform_failures(connection):
        connection_refresh_tokens(connection=connection)
    SocialConnection.objects.filter(pk=connection.pk).update(token_checked_at=timezone.now())
    return "refreshed"


# ----------------------------------------------------------------------------- disconnecting


def connection_deactivate(*, connection, by):
    """Stop using the connection but keep it and its post history."""
    SocialConnection.objects.filter(pk=connection.pk).update(
        is_active=False, last_error=f"Deactivated by {by}.", last_error_at=timezone.now()
    )
    history_record(connection, action="deactivated it", by=by)
    connection.refresh_from_db()
    return connection


def connection_scheduled_post_count(*, connection):
    return connection.posts.filter(status__in=["SCHEDULED", "DRAFT"]).count()


def connection_delete(*, connection, by):
    """Revoke at the platform where it can, then delete the row (its posts go with it, as in the seed).

    Returns a sentence for staff about what happened at the platform.
    """
    adapter = get_adapter(connection.platform)
    if not adapter.can_revoke:
        outcome = (f"{adapter.display_name} cannot revoke one account's access on its own; remove SocialCRM in "
                   "your account's business integrations settings if no other account uses it.")
    else:
        outcome = f"Access was revoked at {adapter.display_name}."
        try:
            adapter.revoke(credentials=connection_credentials(connection=connection))
        except TokenUnreadable:
            outcome = "The stored token could not be read, so nothing was revoked at the platform."
        except PlatformError as exc:
            outcome = (f"{adapter.display_name} could not revoke access; remove the app in its settings. "
                       f"({split_platform_words(exc.message)[1] or exc.message})")
    logger.info("connection deleted", extra={"connection_id": str(connection.pk), "tenant_id": connection.tenant_id, "by": by})
    connection.delete()
    return outcome


# ----------------------------------------------------------------------------- posting schedule


def posting_slot_add(*, connection, weekday, at):
    """Add a weekly posting time (club clock) to a connection; the same time twice is refused."""
    from django.core.exceptions import ValidationError

    from connections.models import PostingSlot, Weekday
    from crm.dates import format_clock

    if weekday not in Weekday.values:
        raise ValidationError({"weekday": "Choose a day of the week."})
    at = at.replace(second=0, microsecond=0)
    if PostingSlot.objects.filter(connection=connection, weekday=weekday, time=at).exists():
        raise ValidationError({"time": (f"{Weekday(weekday).label} at {format_clock(at, connection.club)} "
                                        "is already a posting time.")})
    return PostingSlot.objects.create(connection=connection, weekday=weekday, time=at)


def posting_slot_remove(*, slot):
    slot.delete()
