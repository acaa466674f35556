"""The publisher: find due posts, claim each exactly once, publish, retry, reconcile stuck ones.

Claims are conditional UPDATEs (``WHERE status = 'SCHEDULED'``): whichever worker changes the
row goes on, every other one sees zero rows and moves along. The publish task carries the
claim's timestamp and consumes it with a second conditional UPDATE before calling the
platform, so a redelivered task (acks_late after a crash) never calls the platform again: the
reconciler asks the platform instead.
"""

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from connections.services import ConnectionUnusable, TokenUnreadable, connection_call
from platforms import (
    AuthExpired,
    DuplicateContent,
    InvalidContent,
    NotFound,
    PermissionMissing,
    PlatformError,
    ProcessingPending,
    RateLimited,
    TransientError,
    get_adapter,
)
from platforms.fetch import media_fetch
from posts.models import PublishErrorKind as K
from posts.models import SchedulerHeartbeat, SocialPost
from posts.models import SocialPostStatus as S
from posts.services import content_violations, post_content
from posts.states import check_transition

logger = logging.getLogger("posts")

MISSED_MESSAGE = "The post missed its publish time and was not published late."


# ----------------------------------------------------------------------------- claiming


def heartbeat_record(*, name, summary, now=None):
    SchedulerHeartbeat.objects.update_or_create(name=name, defaults={"last_run_at": now or timezone.now(),
                                                                     "last_summary": summary})


def due_posts(*, now, limit):
    """Ids of SCHEDULED posts whose time has come (served by the partial index post_due_idx)."""
    return list(
        SocialPost.objects.filter(status=S.SCHEDULED, scheduled_at__lte=now)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("scheduled_at", "pk").values_list("pk", flat=True)[:limit]
    )


def posts_fail_missed(*, now):
    """SCHEDULED posts overdue by more than the window are failed, never published late."""
    check_transition(S.SCHEDULED, S.FAILED, action="fail")
    cutoff = now - timedelta(seconds=settings.PUBLISH_MISSED_WINDOW_SECONDS)
    return SocialPost.objects.filter(status=S.SCHEDULED, scheduled_at__lt=cutoff).update(
        status=S.FAILED, error=MISSED_MESSAGE, error_kind=K.MISSED, next_attempt_at=None, updated_at=now)


def post_claim(*, post_id, now):
    """SCHEDULED → PUBLISHING for exactly one caller; returns the claim time or None when another won."""
    check_transition(S.SCHEDULED, S.PUBLISHING, action="publish")
    won = SocialPost.objects.filter(pk=post_id, status=S.SCHEDULED).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ).update(status=S.PUBLISHING, publishing_started_at=now, attempts=F("attempts") + 1, updated_at=now)
    return now if won else None


def enqueue_publish(*, post_id, claimed_at=None):
    from posts.tasks import publish_post

    if claimed_at is None:
        claimed_at = SocialPost.objects.filter(pk=post_id).values_list("publishing_started_at", flat=True).first()
    args = {"post_id": str(post_id), "claimed_at": claimed_at.isoformat() if claimed_at else None}
    transaction.on_commit(lambda: publish_post.delay(**args))


def posts_publish_due(*, now=None, limit=None):
    """The periodic scan: fail missed posts, claim due ones, enqueue one publish task per claim."""
    now = now or timezone.now()
    missed = posts_fail_missed(now=now)
    claimed = []
    for post_id in due_posts(now=now, limit=limit or settings.PUBLISH_BATCH_SIZE):
        with transaction.atomic():
            claimed_at = post_claim(post_id=post_id, now=now)
            if claimed_at:
                enqueue_publish(post_id=post_id, claimed_at=claimed_at)
                claimed.append(post_id)
    heartbeat_record(name="publish_due_posts", summary={"claimed": len(claimed), "missed": missed}, now=now)
    return claimed


# ----------------------------------------------------------------------------- publishing


def _finish(post, *, action, to, now, **changes):
    """PUBLISHING → ``to``, only if the post is still publishing (the reconciler may have settled it)."""
    check_transition(S.PUBLISHING, to, action=action)
    changes.update(status=to, updated_at=now)
    if to == S.PUBLISHED:  # the metric sync reads it at its next run, then on the cadence
        changes.setdefault("metrics_next_sync_at", changes.get("published_at") or now)
    won = SocialPost.objects.filter(pk=post.pk, status=S.PUBLISHING).update(**changes)
    if won:
        for name, value in changes.items():
            setattr(post, name, value)
    else:
        logger.warning("post %s was no longer publishing when its outcome (%s) arrived", post.pk, to)
    return bool(won)


def _fail(post, *, kind, message, now):
    logger.info("post %s failed (%s): %s", post.pk, kind, message)
    return _finish(post, action="fail", to=S.FAILED, now=now, error=message, error_kind=kind, next_attempt_at=None)


def backoff_seconds(attempt):
    """Exponential backoff with jitter: base·2^(n-1), capped, then a random 50–100 % of it."""
    base = settings.PUBLISH_BACKOFF_BASE_SECONDS * (2 ** max(attempt - 1, 0))
    capped = min(base, settings.PUBLISH_BACKOFF_MAX_SECONDS)
    return capped * random.uniform(0.5, 1.0)


def _retry_later(post, *, error, kind, now):
    reset_at = getattr(error, "reset_at", None)
    if reset_at is not None and post.scheduled_at and reset_at > post.scheduled_at + timedelta(
            seconds=settings.PUBLISH_MISSED_WINDOW_SECONDS):
        # The platform's limit lasts past the publish window: say so now rather than "missed" later.
        return _fail(post, kind=kind, now=now, message=error.message)
    if post.attempts >= settings.PUBLISH_MAX_ATTEMPTS:
        return _fail(post, kind=kind, now=now,
                     message=f"Gave up after {post.attempts} attempts: {error.message}")
    at = now + timedelta(seconds=backoff_seconds(post.attempts))
    if getattr(error, "retry_after", None):
        at = max(at, now + timedelta(seconds=float(error.retry_after)))
    if reset_at is not None:
        # Never before the platform's reset time; a little jitter so a burst does not return at once.
        at = max(at, reset_at + timedelta(seconds=random.uniform(1, 5)))
    logger.info("post %s will be retried at %s (%s)", post.pk, at.isoformat(), error.message)
    return _finish(post, action="retry", to=S.SCHEDULED, now=now, error=error.message, error_kind=kind,
                   next_attempt_at=at)


def _wait_for_processing(post, *, error, now):
    """The platform is still processing the post's media (Instagram container, Facebook video):
    back to SCHEDULED with a due time, so no worker waits on it; the attempt is given back, as
    nothing failed. The stored publish_state makes the next attempt resume on the same media."""
    at = now + timedelta(seconds=float(error.retry_after or settings.MEDIA_PROCESSING_POLL_INTERVAL))
    logger.info("post %s: media still processing, resumes at %s", post.pk, at.isoformat())
    return _finish(post, action="retry", to=S.SCHEDULED, now=now, error=error.message, error_kind=K.PROCESSING,
                   next_attempt_at=at, attempts=max(post.attempts - 1, 0))


def _save_progress(post_id, progress):
    SocialPost.objects.filter(pk=post_id).update(publish_state=dict(progress))


def media_check(urls):
    """Every media file is reachable, an image or video, and within the size limit (before we publish).

    Our own uploads are checked in storage; any other address goes through the guarded fetcher.
    """
    for url in urls:
        media_fetch(url, read_body=False)


def _consume_claim(post_id, claimed_at):
    """The task's claim is good once: a redelivered copy finds the timestamp changed and stops."""
    stamp = timezone.now()
    if claimed_at is None:
        return SocialPost.objects.filter(pk=post_id, status=S.PUBLISHING).update(publishing_started_at=stamp) == 1
    if stamp == claimed_at:
        stamp += timedelta(microseconds=1)
    return SocialPost.objects.filter(pk=post_id, status=S.PUBLISHING, publishing_started_at=claimed_at).update(
        publishing_started_at=stamp) == 1


ERROR_KINDS = [
    (PermissionMissing, K.PERMISSION),
    (InvalidContent, K.INVALID_CONTENT),
    (DuplicateContent, K.DUPLICATE),
    (NotFound, K.NOT_FOUND),
]


def _outcome_unknown(post):
    """The last attempt ended in a temporary error the platform may have acted on (a timeout, a 5xx)."""
    return post.attempts > 1 and post.error_kind == K.TRANSIENT


def post_publish(*, post_id, claimed_at=None, now=None):
    """Publish one claimed post; every outcome leaves the row PUBLISHED, SCHEDULED (retry) or FAILED.

    After an attempt whose outcome is unknown, the platform is asked first whether it already has
    the post, so a timeout after the platform accepted it never leads to a second post.
    """
    now = now or timezone.now()
    if not _consume_claim(post_id, claimed_at):
        logger.info("post %s: claim already used or post not publishing; nothing to do", post_id)
        return None
    post = SocialPost.objects.select_related("connection").get(pk=post_id)
    if post.scheduled_at and post.scheduled_at < now - timedelta(seconds=settings.PUBLISH_MISSED_WINDOW_SECONDS):
        _fail(post, kind=K.MISSED, message=MISSED_MESSAGE, now=now)
        return post
    connection = post.connection
    content = post_content(post)
    violations = content_violations(platform=connection.platform, content=content)
    if violations:
        _fail(post, kind=K.INVALID_CONTENT, message=" ".join(v.message for v in violations), now=now)
        return post
    try:
        earlier = _published_copy(post) if _outcome_unknown(post) else None
        if earlier is None:
            media_check(content.media_urls)
            progress = dict(post.publish_state or {})
            result = connection_call(
                connection=connection,
                operation=lambda adapter, credentials: adapter.publish_resuming(
                    credentials=credentials, content=content, progress=progress,
                    checkpoint=lambda: _save_progress(post.pk, progress)))
    except ProcessingPending as exc:
        _wait_for_processing(post, error=exc, now=now)
    except ConnectionUnusable as exc:
        _fail(post, kind=K.AUTH, message=str(exc), now=now)
    except TokenUnreadable as exc:  # already says to reconnect; the connection is marked
        _fail(post, kind=K.AUTH, message=exc.message, now=now)
    except AuthExpired as exc:
        _fail(post, kind=K.AUTH, message=f"{exc.message} The connection needs reconnecting.", now=now)
    except RateLimited as exc:
        _retry_later(post, error=exc, kind=K.RATE_LIMITED, now=now)
    except TransientError as exc:
        _retry_later(post, error=exc, kind=K.TRANSIENT, now=now)
    except PlatformError as exc:
        kind = next((k for cls, k in ERROR_KINDS if isinstance(exc, cls)), K.OTHER)
        _fail(post, kind=kind, message=exc.message, now=now)
    else:
        if earlier is not None:
            _record_found(post, earlier, now=now)
        else:
            _finish(post, action="record publication", to=S.PUBLISHED, now=now,
                    platform_post_id=result.platform_post_id, platform_url=result.platform_url,
                    published_at=timezone.now(), error=None, error_kind=None, next_attempt_at=None,
                    publish_state={})
    return post


# ----------------------------------------------------------------------------- reconciliation


def _published_copy(post):
    """The platform's copy of this post, if it has one: the adapter says which of the account's recent
    posts is ours (its text as the platform keeps it, its media, created after we first tried)."""
    adapter = get_adapter(post.connection.platform)
    content = post_content(post)
    expected = adapter.render_text(content)
    since = min(filter(None, [post.publishing_started_at, post.scheduled_at, post.created_at])) - timedelta(minutes=5)
    remote = connection_call(
        connection=post.connection,
        operation=lambda adapter, credentials: adapter.recent_posts(credentials=credentials, since=since))
    return next((r for r in remote if adapter.same_post(text=expected, media_count=len(content.media_urls),
                                                         created_after=since, remote=r)), None)


def _record_found(post, remote, *, now):
    return _finish(post, action="record publication", to=S.PUBLISHED, now=now,
                   platform_post_id=remote.platform_post_id, platform_url=remote.platform_url,
                   published_at=remote.created_at, error=None, error_kind=None, next_attempt_at=None)


def post_reconcile(*, post, now):
    """A post left PUBLISHING by a dead worker: published if the platform has it, else retried (or failed)."""
    started = post.publishing_started_at
    # Claim the reconciliation itself, so two reconcilers never both retry the post.
    if not SocialPost.objects.filter(pk=post.pk, status=S.PUBLISHING, publishing_started_at=started).update(
            publishing_started_at=now):
        return None
    try:
        match = _published_copy(post)  # searches from the original start, before the stamp moved
    except (ConnectionUnusable, AuthExpired) as exc:
        _fail(post, kind=K.AUTH, message=f"Could not check whether the post was published: {exc}", now=now)
        return "failed"
    except PlatformError as exc:
        logger.warning("post %s: could not list recent posts (%s); will check again", post.pk, exc.message)
        return "unknown"
    post.publishing_started_at = now
    if match is not None:
        _record_found(post, match, now=now)
        return "published"
    if post.attempts >= settings.PUBLISH_MAX_ATTEMPTS:
        _fail(post, kind=K.TRANSIENT, now=now,
              message=f"Gave up after {post.attempts} attempts: the publishing worker stopped before finishing.")
        return "failed"
    _finish(post, action="retry", to=S.SCHEDULED, now=now, next_attempt_at=now,
            error="The publishing worker stopped before finishing; the platform does not have the post, "
                  "so it will be tried again.", error_kind=K.TRANSIENT)
    return "retried"


def posts_reconcile_stuck(*, now=None):
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PUBLISH_STUCK_AFTER_SECONDS)
    stuck = SocialPost.objects.select_related("connection").filter(
        status=S.PUBLISHING, publishing_started_at__lt=cutoff).order_by("publishing_started_at")[:200]
    outcomes = {}
    for post in stuck:
        outcome = post_reconcile(post=post, now=now)
        if outcome:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    heartbeat_record(name="reconcile_stuck_posts", summary=outcomes, now=now)
    return outcomes
