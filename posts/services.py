"""Writes on posts: create, edit, schedule, cancel, retry, publish now, delete; submit, approve, send back.

Every status change goes through ``posts.states`` and, where a worker could race with staff,
through a conditional UPDATE so exactly one caller wins. The publisher itself lives in
``posts.publishing``.
"""

from datetime import timedelta
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from connections.models import SocialConnection
from crm.history import acting, history_record
from library.services import post_media_link
from posts import signals
from posts.approvals import NotAnApprover, approval_needed, can_approve, check_may_go_out
from posts.calendar import queue_time
from posts.content import MEDIA_TYPES, content_violations, post_content, raise_for_violations
from posts.models import VERSION_FIELDS, PublishErrorKind, SocialPost
from posts.models import ApprovalState as A
from posts.models import SocialPostStatus as S
from posts.publishing import enqueue_publish, post_claim
from posts.states import STAFF_ACTIONS, IllegalTransition, check_action, check_editable, check_transition
from socialcrm.inputs import moment_in_range

# A publish time this close to now (or in the past by at most this) is taken as "now".
SCHEDULE_GRACE = timedelta(minutes=1)

def actor_name(by):
    if by is None:
        return "system"
    if hasattr(by, "get_username"):
        return by.get_username()
    return str(by)


def _check_connection(*, tenant, connection):
    if connection is None or connection.tenant_id != tenant.pk:
        raise ValidationError({"connection": "Connection not found."})
    if not connection.is_active:
        raise ValidationError({"connection": (
            f"{connection.get_platform_display()} account “{connection.account_name}” needs reconnecting "
            "before it can publish.")})


def _check_campaign(*, tenant, campaign):
    if campaign is not None and campaign.tenant_id != tenant.pk:
        raise ValidationError({"campaign": "Campaign not found."})


def _check_time(at, *, now=None):
    now = now or timezone.now()
    if at is None:
        raise ValidationError({"scheduled_at": "Choose when to publish."})
    if timezone.is_naive(at):
        raise ValidationError({"scheduled_at": "The publish time needs a timezone."})
    try:
        at = moment_in_range(at, now=now)
    except ValidationError as exc:
        raise ValidationError({"scheduled_at": exc.messages}) from None
    if at < now - SCHEDULE_GRACE:
        raise ValidationError({"scheduled_at": "The publish time is in the past."})


def _clean_list(values):
    """Stripped, non-empty, each value once (in the order given)."""
    return list(dict.fromkeys(str(v).strip() for v in (values or ()) if str(v).strip()))


@transaction.atomic
def post_create(*, tenant, connection, content, hashtags=(), link_url=None, media_urls=(), campaign=None,
                scheduled_at=None, created_by, dispatch=None, composition=None, overridden_fields=()):
    """A DRAFT post, or a SCHEDULED one when ``scheduled_at`` is given; content checked by the platform's rules.

    With ``composition`` the post is that composition's version for its network, setting
    ``overridden_fields`` apart from the composition's base."""
    _check_connection(tenant=tenant, connection=connection)
    _check_campaign(tenant=tenant, campaign=campaign)
    post = SocialPost(
        tenant=tenant, connection=connection, campaign=campaign, content=content or "",
        hashtags=_clean_list(hashtags), link_url=link_url or None, media_urls=_clean_list(media_urls),
        created_by=actor_name(created_by), dispatch=dispatch, status=S.DRAFT,
        composition=composition, overridden_fields=[f for f in VERSION_FIELDS if f in set(overridden_fields)],
    )
    raise_for_violations(content_violations(platform=connection.platform, content=post_content(post)))
    if scheduled_at is not None:
        _check_time(scheduled_at)
        post.scheduled_at = scheduled_at
        if approval_needed(post=post, by=created_by):
            # Asked for a time but needs approval: kept as a draft at that time and submitted at once;
            # approving it schedules it.
            _mark_requested(post, by=created_by)
        else:
            post.status = S.SCHEDULED
    with acting(created_by, "created it"):
        post.save()
    post_media_link(post=post)
    if post.approval_state == A.PENDING:
        _announce_request(post, by=created_by)
    return post


def posts_compose(*, tenant, connections, content, hashtags=(), link_url=None, media_urls=(), campaign=None,
                  scheduled_at=None, publish_now=False, add_to_queue=False, club=None, by):
    """One post per connection from one draft, all or none: the composer page, the API and the admin.

    Each post is held to its own platform's rules; when any is refused nothing is saved and every
    refusal is reported (named by account when there are several). ``scheduled_at`` is one time,
    or a function of the connection (the composer reads the time on each account's club clock).
    ``add_to_queue`` schedules each post at its connection's next free posting slot instead (on the
    connection's club clock, else ``club``'s).
    """
    connections = list(connections)
    if not connections:
        raise ValidationError("Choose at least one account to post to.")
    if publish_now and any(approval_needed(post=SocialPost(tenant=tenant, connection=c), by=by) for c in connections):
        raise ValidationError("Posts need approval before they go out: choose a time and schedule it "
                              "(it is sent for approval), or save it as a draft and submit it.")
    scheduled_at = publish_time(scheduled_at=scheduled_at, publish_now=publish_now, add_to_queue=add_to_queue,
                                club=club)
    created, problems = [], []
    with transaction.atomic():
        for connection in connections:
            try:
                with transaction.atomic():
                    post = post_create(tenant=tenant, connection=connection, content=content, hashtags=hashtags,
                                       link_url=link_url, media_urls=media_urls, campaign=campaign,
                                       scheduled_at=scheduled_at(connection) if callable(scheduled_at) else scheduled_at,
                                       created_by=by)
                    if publish_now:
                        post = post_publish_now(post=post, by=by)
                created.append(post)
            except ValidationError as exc:
                if len(connections) == 1:
                    raise
                label = connection.get_platform_display()
                problems.extend(m if m.startswith(label) else f"{connection.account_name}: {m}" for m in exc.messages)
        if problems:
            transaction.set_rollback(True)
            raise ValidationError(problems)
    return created


@transaction.atomic
def post_update(*, post, by, content=None, hashtags=None, link_url=..., media_urls=None, campaign=..., connection=None,
                follows_base=False):
    """Edit a DRAFT or FAILED post.

    A FAILED post stays FAILED, so it can still be retried; the edit lifts a refusal that blocked
    retrying (the content it judged is gone), and a publish time already past is cleared so no page
    shows it as when the post will go out.

    On a composition's version, a field edited to differ from the composition's base is overridden
    (base edits no longer reach it) and one edited back to the base follows the base again;
    ``follows_base`` marks the composition's own propagation of a base edit, which overrides nothing.
    """
    post = SocialPost.objects.select_for_update(of=("self",)).select_related("connection", "tenant", "composition").get(pk=post.pk)
    given = {name for name, value in (("content", content), ("hashtags", hashtags), ("media_urls", media_urls))
             if value is not None} | ({"link_url"} if link_url is not ... else set())
    check_editable(post.status)
    before = (post_content(post), post.connection_id)
    if connection is not None and connection.pk != post.connection_id:
        _check_connection(tenant=post.tenant, connection=connection)
        post.connection = connection
    if campaign is not ...:
        _check_campaign(tenant=post.tenant, campaign=campaign)
        post.campaign = campaign
    if content is not None:
        post.content = content
    if hashtags is not None:
        post.hashtags = _clean_list(hashtags)
    if link_url is not ...:
        post.link_url = link_url or None
    if media_urls is not None:
        post.media_urls = _clean_list(media_urls)
    raise_for_violations(content_violations(platform=post.connection.platform, content=post_content(post)))
    if post.composition is not None and not follows_base:
        post.overridden_fields = version_overrides(post=post, composition=post.composition, edited=given)
    if post.status == S.FAILED:
        post.error_kind = post.next_attempt_at = None
        if post.scheduled_at is not None and post.scheduled_at < timezone.now():
            post.scheduled_at = None
    # Approved content that changes needs approving again (unless the editor may approve it themselves).
    resubmitted = (post.approval_state == A.APPROVED and (post_content(post), post.connection_id) != before
                   and approval_needed(post=post, by=by))
    if resubmitted:
        _mark_requested(post, by=by)
    with acting(by, "edited it"):
        post.save()
    post_media_link(post=post)
    if resubmitted:
        _announce_request(post, by=by)
    return post


def publish_time(*, scheduled_at, publish_now, add_to_queue, club):
    """When to publish: the time given, or with ``add_to_queue`` each connection's next free posting slot."""
    if not add_to_queue:
        return scheduled_at
    if scheduled_at is not None or publish_now:
        raise ValidationError({"add_to_queue": "Add to the queue, or choose a time — not both."})
    return partial(queued_time, club=club)


def queued_time(connection, *, club):
    """The connection's next free posting slot, with the connection locked so two queues never share one."""
    SocialConnection.objects.select_for_update().filter(pk=connection.pk).first()
    return queue_time(connection=connection, club=club)


def version_overrides(*, post, composition, edited):
    """The fields a version sets apart from its composition once ``edited`` fields hold the post's values."""
    overridden = set(post.overridden_fields or [])
    for name in edited:
        if getattr(post, name) != getattr(composition, name):
            overridden.add(name)
        else:
            overridden.discard(name)
    return [f for f in VERSION_FIELDS if f in overridden]


def posts_unblock_after_reconnect(*, connection):
    """A reconnect may grant the permission a failed post lacked: its posts may be retried again."""
    return SocialPost.objects.filter(connection=connection, status=S.FAILED,
                                     error_kind=PublishErrorKind.PERMISSION).update(
        error_kind=None, updated_at=timezone.now())


def _locked(post):
    return SocialPost.objects.select_for_update().select_related("connection", "tenant").get(pk=post.pk)


def _refresh(post, fresh):
    post.__dict__.update({k: v for k, v in fresh.__dict__.items() if not k.startswith("_")})
    return post


@transaction.atomic
def post_schedule(*, post, at, by):
    """DRAFT → SCHEDULED at ``at`` (or move a SCHEDULED post to a new time)."""
    fresh = _locked(post)
    check_action(fresh.status, "schedule")
    check_may_go_out(post=fresh, by=by, action="schedule")
    _check_connection(tenant=fresh.tenant, connection=fresh.connection)
    raise_for_violations(content_violations(platform=fresh.connection.platform, content=post_content(fresh)))
    _check_time(at)
    verb = "rescheduled it" if fresh.status == S.SCHEDULED else "scheduled it"
    fresh.status, fresh.scheduled_at = S.SCHEDULED, at
    fresh.error = fresh.error_kind = fresh.next_attempt_at = None
    with acting(by, verb):
        fresh.save(update_fields=["status", "scheduled_at", "error", "error_kind", "next_attempt_at", "updated_at"])
    return _refresh(post, fresh)


def _conditional(post, *, from_status, action, **changes):
    """UPDATE ... WHERE status = from_status; IllegalTransition when the row was elsewhere (or moved meanwhile)."""
    check_transition(from_status, changes["status"], action=action)
    changes["updated_at"] = timezone.now()
    won = SocialPost.objects.filter(pk=post.pk, status=from_status).update(**changes)
    if not won:
        current = SocialPost.objects.filter(pk=post.pk).values_list("status", flat=True).first()
        if current is None:
            raise SocialPost.DoesNotExist("The post no longer exists.")
        raise IllegalTransition(post_status=current, action=action)
    for name, value in changes.items():
        setattr(post, name, value)
    return post


def post_cancel(*, post, by):
    """SCHEDULED → DRAFT. Conditional, so a post the publisher has just claimed is not 'cancelled'."""
    with transaction.atomic():
        post = _conditional(post, from_status=S.SCHEDULED, action="cancel", status=S.DRAFT, next_attempt_at=None)
        history_record(post, action="cancelled it", by=by)
    return post


@transaction.atomic
def post_retry(*, post, by, at=None):
    """FAILED → SCHEDULED, with a fresh attempt budget; at once unless a later time is given."""
    fresh = _locked(post)
    check_action(fresh.status, "retry", error_kind=fresh.error_kind)
    check_may_go_out(post=fresh, by=by, action="retry")
    _check_connection(tenant=fresh.tenant, connection=fresh.connection)
    raise_for_violations(content_violations(platform=fresh.connection.platform, content=post_content(fresh)))
    now = timezone.now()
    if at is not None:
        _check_time(at, now=now)
    fresh.status, fresh.scheduled_at = S.SCHEDULED, max(at or now, now)
    fresh.attempts, fresh.error, fresh.error_kind, fresh.next_attempt_at = 0, None, None, None
    fresh.publishing_started_at = fresh.claimed_at = fresh.first_claimed_at = fresh.publish_lag_seconds = None
    with acting(by, "retried it"):
        fresh.save(update_fields=["status", "scheduled_at", "attempts", "error", "error_kind", "next_attempt_at",
                                  "publishing_started_at", "claimed_at", "first_claimed_at", "publish_lag_seconds",
                                  "updated_at"])
    return _refresh(post, fresh)


def post_publish_now(*, post, by):
    """Publish a DRAFT, SCHEDULED or FAILED post at once: schedule it for now and claim it straight away."""
    with transaction.atomic():
        fresh = _locked(post)
        check_action(fresh.status, "publish", error_kind=fresh.error_kind)
        check_may_go_out(post=fresh, by=by, action="publish")
        _check_connection(tenant=fresh.tenant, connection=fresh.connection)
        raise_for_violations(content_violations(platform=fresh.connection.platform, content=post_content(fresh)))
        now = timezone.now()
        fresh.status, fresh.scheduled_at = S.SCHEDULED, now
        fresh.attempts, fresh.error, fresh.error_kind, fresh.next_attempt_at = 0, None, None, None
        fresh.publishing_started_at = fresh.claimed_at = fresh.first_claimed_at = fresh.publish_lag_seconds = None
        with acting(by, "sent it for publishing"):
            fresh.save(update_fields=["status", "scheduled_at", "attempts", "error", "error_kind", "next_attempt_at",
                                      "publishing_started_at", "claimed_at", "first_claimed_at",
                                      "publish_lag_seconds", "updated_at"])
        if post_claim(post_id=fresh.pk, now=now):
            enqueue_publish(post_id=fresh.pk)
    fresh.refresh_from_db()
    return _refresh(post, fresh)


def post_delete(*, post, by):
    """Delete a post that has not started publishing (DRAFT, SCHEDULED or FAILED)."""
    with acting(by, "deleted it"):
        deleted, _ = SocialPost.objects.filter(pk=post.pk, status__in=STAFF_ACTIONS["delete"]).delete()
    if not deleted:
        current = SocialPost.objects.filter(pk=post.pk).values_list("status", flat=True).first()
        if current is None:
            raise SocialPost.DoesNotExist("The post no longer exists.")
        raise IllegalTransition(post_status=current, action="delete")


# ----------------------------------------------------------------------------- approval


def _mark_requested(post, *, by):
    post.approval_state = A.PENDING
    post.approval_requested_by = by if getattr(by, "pk", None) else None
    post.approval_requested_at = timezone.now()
    post.approval_decided_by, post.approval_decided_at, post.approval_comment = None, None, ""


def _announce_request(post, *, by):
    transaction.on_commit(lambda: signals.approval_requested.send(sender=SocialPost, post=post, by=by))


def _announce_decision(post, *, by, approved, comment):
    transaction.on_commit(lambda: signals.approval_decided.send(sender=SocialPost, post=post, by=by,
                                                                approved=approved, comment=comment))


APPROVAL_FIELDS = ["approval_state", "approval_requested_by", "approval_requested_at", "approval_decided_by",
                   "approval_decided_at", "approval_comment", "updated_at"]


@transaction.atomic
def post_submit(*, post, by):
    """Ask for approval of a draft or failed post (when the tenant's posts need it)."""
    fresh = _locked(post)
    if not fresh.tenant.posts_need_approval:
        raise IllegalTransition(post_status=fresh.status, action="submit for approval",
                                hint="posts do not need approval in this organisation")
    if fresh.status not in (S.DRAFT, S.FAILED):
        raise IllegalTransition(post_status=fresh.status, action="submit for approval",
                                hint="only a draft or failed post can be submitted")
    if fresh.approval_state == A.PENDING:
        raise IllegalTransition(post_status=fresh.status, action="submit for approval",
                                hint="it is already awaiting approval")
    if fresh.approval_state == A.APPROVED:
        raise IllegalTransition(post_status=fresh.status, action="submit for approval", hint="it is already approved")
    raise_for_violations(content_violations(platform=fresh.connection.platform, content=post_content(fresh)))
    _mark_requested(fresh, by=by)
    with acting(by, "submitted it for approval"):
        fresh.save(update_fields=APPROVAL_FIELDS)
    _announce_request(fresh, by=by)
    return _refresh(post, fresh)


def post_approve(*, post, by, comment=""):
    """Approve a post awaiting approval. A draft with a publish time still ahead is scheduled for it."""
    with transaction.atomic():
        fresh = _locked(post)
        if not can_approve(user=by, post=fresh):
            raise NotAnApprover()
        if fresh.approval_state != A.PENDING:
            raise IllegalTransition(post_status=fresh.status, action="approve", hint="it is not awaiting approval")
        fresh.approval_state = A.APPROVED
        fresh.approval_decided_by, fresh.approval_decided_at = by, timezone.now()
        fresh.approval_comment = (comment or "").strip()
        with acting(by, "approved it"):
            fresh.save(update_fields=APPROVAL_FIELDS)
        if (fresh.status == S.DRAFT and fresh.scheduled_at is not None
                and fresh.scheduled_at >= timezone.now() - SCHEDULE_GRACE):
            try:
                with transaction.atomic():
                    post_schedule(post=fresh, at=max(fresh.scheduled_at, timezone.now()), by=by)
            except ValidationError:
                pass  # e.g. its account needs reconnecting: approved all the same, scheduled once it can be
        _announce_decision(fresh, by=by, approved=True, comment=fresh.approval_comment)
    return _refresh(post, fresh)


def post_send_back(*, post, by, comment):
    """Send a post back to its author with a comment: it is not approved, and a scheduled one becomes a draft."""
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": "Say what should change."})
    with transaction.atomic():
        fresh = _locked(post)
        if not can_approve(user=by, post=fresh):
            raise NotAnApprover()
        if fresh.approval_state not in (A.PENDING, A.APPROVED) or fresh.status not in (S.DRAFT, S.SCHEDULED, S.FAILED):
            raise IllegalTransition(post_status=fresh.status, action="send back",
                                    hint="only a post awaiting approval, or approved and not yet published, can be sent back")
        if fresh.status == S.SCHEDULED:
            _conditional(fresh, from_status=S.SCHEDULED, action="cancel", status=S.DRAFT, next_attempt_at=None)
        fresh.approval_state = A.CHANGES_REQUESTED
        fresh.approval_decided_by, fresh.approval_decided_at, fresh.approval_comment = by, timezone.now(), comment
        with acting(by, "sent it back"):
            fresh.save(update_fields=APPROVAL_FIELDS)
        _announce_decision(fresh, by=by, approved=False, comment=comment)
    return _refresh(post, fresh)


# ----------------------------------------------------------------------------- times and media

MEDIA_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
                    "video/mp4": ".mp4", "video/quicktime": ".mov"}


def media_type_of(head):
    """The media type the file's first bytes show, whatever the browser claimed; None when unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    return None


def media_store(*, upload, tenant):
    """Save an uploaded image or video through Django's storage API; returns its public URL.

    The type is read from the file's own bytes and decides the stored extension, so a file
    cannot be served back as anything but the image or video it is.
    """
    import uuid
    from pathlib import PurePath

    from django.conf import settings
    from django.core.files.storage import default_storage
    from django.utils.text import get_valid_filename

    from platforms.fetch import media_max_bytes

    head = upload.read(16)
    upload.seek(0)
    media_type = media_type_of(head)
    if media_type is None:
        raise ValidationError({"media": f"“{upload.name}” is not an image (JPEG, PNG, GIF, WebP) or video (MP4, MOV)."})
    kind = MEDIA_TYPES[media_type]
    limit = media_max_bytes(kind)
    if upload.size > limit:
        raise ValidationError({"media": f"“{upload.name}” is larger than {limit // (1024 * 1024)} MB."})
    if media_type in CONVERT_TO_JPEG:
        upload, media_type = _as_jpeg(upload), "image/jpeg"
    stem = get_valid_filename(PurePath(upload.name).stem) or "media"
    name = f"posts/{tenant.pk}/{uuid.uuid4().hex}/{stem}{MEDIA_EXTENSIONS[media_type]}"
    path = default_storage.save(name, upload)
    return settings.SITE_URL.rstrip("/") + settings.MEDIA_URL + path


# Still images uploaded as PNG or WebP are stored as JPEG: Instagram publishes JPEG only, and
# every other platform takes JPEG too. GIFs stay as they are (they may be animated).
CONVERT_TO_JPEG = {"image/png", "image/webp"}


def _as_jpeg(upload):
    """The uploaded image re-encoded as a JPEG (transparency flattened on white)."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(upload) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "P"):
                image = image.convert("RGBA")
                flat = Image.new("RGB", image.size, (255, 255, 255))
                flat.paste(image, mask=image.getchannel("A"))
                image = flat
            else:
                image = image.convert("RGB")
            out = io.BytesIO()
            image.save(out, "JPEG", quality=90, optimize=True)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise ValidationError({"media": f"“{upload.name}” could not be read as an image ({type(exc).__name__})."}) from None
    return SimpleUploadedFile(upload.name, out.getvalue(), content_type="image/jpeg")


def media_stored_urls(*, tenant, names):
    """The URLs of files media_store saved for this tenant, named by storage name (a form's attached files).

    A name that is not one of the tenant's uploads, or no longer stored, is refused: a form can
    only re-attach what the same tenant uploaded.
    """
    import re

    from django.conf import settings
    from django.core.files.storage import default_storage

    shape = re.compile(rf"posts/{re.escape(str(tenant.pk))}/[0-9a-f]{{32}}/[\w.-]+")
    urls = []
    for name in dict.fromkeys(str(n).strip() for n in names if str(n).strip()):
        if not shape.fullmatch(name) or not default_storage.exists(name):
            raise ValidationError({"media": "An attached file is no longer stored; upload it again."})
        urls.append(settings.SITE_URL.rstrip("/") + settings.MEDIA_URL + name)
    return urls


def media_discard(*, urls):
    """Remove files media_store saved (for posts that were then refused)."""
    from django.conf import settings
    from django.core.files.storage import default_storage

    prefix = settings.SITE_URL.rstrip("/") + settings.MEDIA_URL
    for url in urls:
        if url.startswith(prefix + "posts/"):
            default_storage.delete(url[len(prefix):])


# ----------------------------------------------------------------------------- calendar feed


def calendar_feed_token_hash(token):
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_issue(*, user):
    """A new secret address for the user's calendar feed; the previous one stops working at once.

    Returns the token, which is never stored: only its SHA-256 is kept, so it is shown this once.
    """
    import secrets

    from crm.tenancy import require_membership
    from posts.models import CalendarFeed

    membership = require_membership(user)
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.filter(user=user).delete()
    CalendarFeed.objects.create(user=user, tenant_id=membership.tenant_id, token_hash=calendar_feed_token_hash(token))
    return token


def calendar_feed_revoke(*, user):
    """Stop the user's calendar feed: its address answers "not found" from now on."""
    from posts.models import CalendarFeed

    deleted, _ = CalendarFeed.objects.filter(user=user).delete()
    return bool(deleted)


def calendar_feed_owner(*, token):
    """The active staff user a feed token belongs to, or None (unknown, revoked, or no longer staff)."""
    from crm.tenancy import membership_of
    from posts.models import CalendarFeed

    if not token or len(token) > 128:
        return None
    feed = CalendarFeed.objects.select_related("user").filter(token_hash=calendar_feed_token_hash(token)).first()
    if feed is None or not feed.user.is_active:
        return None
    membership = membership_of(feed.user)
    if membership is None or membership.tenant_id != feed.tenant_id:
        return None
    CalendarFeed.objects.filter(pk=feed.pk).update(last_read_at=timezone.now())
    return feed.user
