from dataclasses import dataclass, field

from django.db.models import Count, F, Prefetch, Q, Sum

from crm.clock import club_utc_to_local
from crm.models import Member
from crm.tenancy import scope_queryset
from platforms import adapters_where, get_adapter
from posts.models import SocialPost, SocialPostStatus
from promotions import messages
from promotions.models import Channel, DeliveryStatus, DispatchKind, DispatchStatus, EventPromotion, TrackingStatus
from promotions.recipients import audience
from promotions.templating import TemplateRefused
from promotions.tracked_links import tracked_url
from socialcrm.inputs import uuid_or_none


def promotion_list(*, user, club=None):
    promotions = scope_queryset(EventPromotion.objects.select_related("club"), user)
    if club is not None:
        promotions = promotions.filter(club=club)
    return promotions.annotate(
        dispatch_total=Count("dispatches"),
        # Only a step that went out is done; skipped, failed and cancelled ones are told apart.
        dispatch_done=Count("dispatches", filter=Q(dispatches__status=DispatchStatus.SENT)),
        dispatch_skipped=Count("dispatches", filter=Q(dispatches__status=DispatchStatus.SKIPPED)),
        dispatch_failed=Count("dispatches", filter=Q(dispatches__status=DispatchStatus.FAILED)),
        dispatch_cancelled=Count("dispatches", filter=Q(dispatches__status=DispatchStatus.CANCELLED)),
    ).order_by("event_starts_at")


@dataclass
class NetworkOutcome:
    """What became of a social dispatch's post on one connection, read from the post itself."""

    network: str
    state: str  # "waiting", "sent" or "failed"
    url: str | None = None
    reason: str = ""  # the plain sentence
    detail: str = ""  # what the platform said, shown apart
    platform: str = ""


@dataclass
class TimelineEntry:
    dispatch: object
    local_time: object
    step: str
    percent_sent: int
    percent_skipped: int
    percent_failed: int
    status: str
    status_label: str
    planned: int
    sent: int
    skipped: int
    failed: int
    outcomes: list = field(default_factory=list)
    # Email: what the provider reported, as (words, count), and each delivery's latest status (the first of them).
    reasons: list = field(default_factory=list)  # the dispatch's reasons, each once
    reports: list = field(default_factory=list)
    deliveries: list = field(default_factory=list)
    deliveries_shown_of: int = 0
    # Texts: segments handed to the gateway (texts sent × each one's segments).
    segments: int = 0


@dataclass
class DeliveryLine:
    member: str
    status: str  # plain words: "Opened", "Not sent", ...
    state: str  # "good", "bad" or "neutral", for the badge
    when: object = None
    reason: str = ""


DELIVERY_LINES_SHOWN = 100
_TRACKING_STATE = {
    TrackingStatus.DELIVERED: "good", TrackingStatus.OPENED: "good", TrackingStatus.CLICKED: "good",
    TrackingStatus.SOFT_BOUNCED: "neutral", TrackingStatus.BOUNCED: "bad", TrackingStatus.COMPLAINED: "bad",
    TrackingStatus.UNDELIVERED: "bad", TrackingStatus.UNREACHABLE: "bad",
}
_SEND_WORDS = {
    DeliveryStatus.PENDING: ("Waiting to be sent", "neutral"), DeliveryStatus.SENDING: ("Being sent", "neutral"),
    DeliveryStatus.SENT: ("Sent, no report yet", "neutral"), DeliveryStatus.SKIPPED: ("Not sent", "neutral"),
    DeliveryStatus.FAILED: ("Failed", "bad"),
}


def _delivery_reports(dispatch):
    """(words, count) for each provider report among the dispatch's deliveries, in the order a message moves on."""
    counts = dict(dispatch.deliveries.filter(status=DeliveryStatus.SENT).values_list("tracking_status").annotate(n=Count("pk")))
    reports = [(status.label, counts[status.value]) for status in TrackingStatus if counts.get(status.value)]
    if counts.get(""):
        reports.insert(0, ("Sent, no report yet", counts[""]))
    return reports


def _delivery_lines(dispatch):
    club = dispatch.promotion.club
    rows = dispatch.deliveries.select_related("member").order_by(
        F("tracking_at").desc(nulls_last=True), F("sent_at").desc(nulls_last=True), "pk")[:DELIVERY_LINES_SHOWN]
    lines = []
    for row in rows:
        if row.tracking_status:
            words, state, when = row.get_tracking_status_display(), _TRACKING_STATE[row.tracking_status], row.tracking_at
        else:
            (words, state), when = _SEND_WORDS[row.status], row.sent_at
        lines.append(DeliveryLine(member=str(row.member), status=words, state=state,
                                  when=club_utc_to_local(club, when) if when else None, reason=row.reason))
    return lines


def _percent(part, whole):
    return round(100 * part / whole) if whole else 0


_POST_STATE = {
    SocialPostStatus.PUBLISHED: "sent",
    SocialPostStatus.FAILED: "failed",
}


def _social_outcomes(dispatch):
    posts = sorted(dispatch.social_posts.all(), key=lambda post: (str(post.connection), post.pk))
    return [
        NetworkOutcome(
            network=str(post.connection), state=_POST_STATE.get(post.status, "waiting"),
            url=post.platform_url if post.status == SocialPostStatus.PUBLISHED else None,
            reason=post.error_summary if post.status == SocialPostStatus.FAILED else "",
            detail=post.error_detail if post.status == SocialPostStatus.FAILED else "",
            platform=post.connection.get_platform_display(),
        )
        for post in posts
    ]


def _reasons(status_reason):
    """A dispatch's reasons, one a line, each said once (two Instagram accounts skip for the same reason)."""
    return list(dict.fromkeys(line.strip() for line in (status_reason or "").splitlines() if line.strip()))


def promotion_timeline(*, promotion):
    """The promotion's dispatches in order, with their moment on the club's clock and progress shares.

    A social dispatch's outcome is its posts' outcomes as they stand now: a post counts as sent once the
    platform has it and as failed once publishing failed; until then it is waiting.
    """
    entries = []
    dispatches = promotion.dispatches.order_by("scheduled_for", "channel").prefetch_related(
        Prefetch("social_posts", queryset=SocialPost.objects.select_related("connection"))
    )
    for dispatch in dispatches:
        step = "Announcement" if dispatch.kind == DispatchKind.ANNOUNCEMENT else (
            "Reminder, 1 day before" if dispatch.days_before == 1 else f"Reminder, {dispatch.days_before} days before")
        planned, sent = dispatch.planned_count, dispatch.sent_count
        skipped, failed = dispatch.skipped_count, dispatch.failed_count
        status, label, outcomes = dispatch.status, dispatch.get_status_display(), []
        if dispatch.channel == Channel.SOCIAL and dispatch.status in (DispatchStatus.SENT, DispatchStatus.FAILED):
            outcomes = _social_outcomes(dispatch)
            states = [o.state for o in outcomes]
            sent = states.count("sent")
            # failed_count holds the posts refused before they were created; failed posts add to it
            failed = dispatch.failed_count + states.count("failed")
            if "waiting" in states:
                status, label = "SENDING", "Waiting"
            elif sent:
                status, label = DispatchStatus.SENT, DispatchStatus.SENT.label
            elif failed:
                status, label = DispatchStatus.FAILED, DispatchStatus.FAILED.label
        entry = TimelineEntry(
            dispatch=dispatch, local_time=club_utc_to_local(promotion.club, dispatch.scheduled_for), step=step,
            percent_sent=_percent(sent, planned), percent_skipped=_percent(skipped, planned),
            percent_failed=_percent(failed, planned), status=status, status_label=label,
            planned=planned, sent=sent, skipped=skipped, failed=failed, outcomes=outcomes,
            reasons=_reasons(dispatch.status_reason),
        )
        if dispatch.channel in (Channel.EMAIL, Channel.SMS) and planned:
            entry.reports = _delivery_reports(dispatch)
            entry.deliveries = _delivery_lines(dispatch)
            entry.deliveries_shown_of = planned
        if dispatch.channel == Channel.SMS:
            entry.segments = dispatch.deliveries.filter(status=DeliveryStatus.SENT).aggregate(n=Sum("segments"))["n"] or 0
        entries.append(entry)
    return entries


def promotion_message_preview(*, promotion, member_id=None, kind=DispatchKind.ANNOUNCEMENT, days_before=0):
    """The email, text and social post a member would get for one step of the plan."""
    members = audience(promotion=promotion).order_by("last_name", "first_name")
    member_id = uuid_or_none(member_id) if member_id else None
    member = members.filter(pk=member_id).first() if member_id else None
    member = member or members.first() or Member(
        tenant_id=promotion.tenant_id, club=promotion.club, first_name="Alex", last_name="Example",
        email="alex@example.com", phone="+447700900123",
    )
    try:
        days_before = int(days_before)
    except (TypeError, ValueError):
        days_before = 0
    if kind not in DispatchKind.values:
        kind = DispatchKind.ANNOUNCEMENT
    steps = [(DispatchKind.ANNOUNCEMENT, 0, "Announcement")] + [
        (DispatchKind.REMINDER, d, f"{d}-day reminder") for d in sorted(set(promotion.reminder_days), reverse=True)
    ]
    shown, refused = {}, {}
    for name, what, build in (
        ("email", "email template",
         lambda: messages.email_content(promotion=promotion, member=member, kind=kind, days_before=days_before)),
        ("sms", "SMS template",
         lambda: messages.sms_text(promotion=promotion, member=member, kind=kind, days_before=days_before)),
        ("social", "social post text",
         lambda: messages.social_text(promotion=promotion, kind=kind, days_before=days_before)),
    ):
        try:
            shown[name] = build()
        except TemplateRefused as exc:
            # A stored template the rules refuse is explained, never rendered.
            shown[name], refused[name] = None, f"The {what} is refused and would not be sent: {exc}"
    return {
        "tracked_links": _tracked_links(promotion),
        "member": member,
        "members": members[:50],
        "kind": kind,
        "days_before": days_before,
        "steps": steps,
        **shown,
        "refused": refused,
        "channels": promotion.channel_names,
        # platforms that take no post without an image (their adapters' requires_media)
        "skipped_without_image": [a.display_name for a in adapters_where(lambda adapter: adapter.requires_media)],
    }


def _tracked_links(promotion):
    """(destination, link) for the event link on each channel of the promotion and each network serving its club."""
    from connections.models import SocialConnection

    if not promotion.event_url:
        return []
    links = [(Channel(c).label, tracked_url(promotion.event_url, promotion=promotion, channel=c))
             for c in (Channel.EMAIL, Channel.SMS) if c in promotion.channels]
    if Channel.SOCIAL in promotion.channels:
        platforms = SocialConnection.objects.filter(
            Q(club_id=promotion.club_id) | Q(club__isnull=True), tenant_id=promotion.tenant_id, is_active=True,
        ).values_list("platform", flat=True).distinct().order_by("platform")
        links += [(get_adapter(platform).display_name,
                   tracked_url(promotion.event_url, promotion=promotion, channel=Channel.SOCIAL, network=platform))
                  for platform in platforms]
    return links
