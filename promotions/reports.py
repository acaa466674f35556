"""What a promotion or a campaign achieved: posts and their engagement per network, emails and texts by outcome,
segments sent and what they cost.

One list of rows (section, measure, value) is the report: the page shows it as a table, the CSV export writes the
same rows and the API returns them, so the three always agree. Engagement is each post's latest synced figures.
Cost is segments sent × the tenant's current price per segment (crm.Tenant.sms_price_per_segment).
"""

import csv
import io
from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from platforms import get_adapter
from posts.models import SocialPost, SocialPostStatus
from promotions.models import Channel, DeliveryStatus, PromotionDelivery, TrackingStatus
from promotions.sms_segments import sms_cost

ENGAGEMENT = ("likes", "comments", "shares", "reach", "impressions")
DELIVERED = (TrackingStatus.DELIVERED, TrackingStatus.OPENED, TrackingStatus.CLICKED)
OPENED = (TrackingStatus.OPENED, TrackingStatus.CLICKED)


@dataclass(frozen=True)
class ReportRow:
    section: str
    measure: str
    value: str


@dataclass
class Report:
    title: str
    rows: list

    def sections(self):
        """[(section, [rows])] in order, for the page."""
        grouped = {}
        for row in self.rows:
            grouped.setdefault(row.section, []).append(row)
        return list(grouped.items())

    def as_csv(self):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["Section", "Measure", "Value"])
        for row in self.rows:
            writer.writerow([_cell(row.section), _cell(row.measure), _cell(row.value)])
        return out.getvalue()


def _cell(text):
    # A cell a spreadsheet would read as a formula is written as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _post_rows(posts):
    rows = []
    per_network = posts.values("connection__platform").annotate(
        posts=Count("pk"), published=Count("pk", filter=Q(status=SocialPostStatus.PUBLISHED)),
        failed=Count("pk", filter=Q(status=SocialPostStatus.FAILED)),
        **{name: Sum(name, default=0) for name in ENGAGEMENT},
    ).order_by("connection__platform")
    for line in per_network:
        section = f"Posts on {get_adapter(line['connection__platform']).display_name}"
        rows += [ReportRow(section, "Posts", str(line["posts"])),
                 ReportRow(section, "Published", str(line["published"])),
                 ReportRow(section, "Failed", str(line["failed"]))]
        rows += [ReportRow(section, name.capitalize(), str(line[name])) for name in ENGAGEMENT]
    if not rows:
        rows.append(ReportRow("Posts", "Posts", "0"))
    return rows


def _delivery_counts(deliveries, channel):
    return deliveries.filter(dispatch__channel=channel).aggregate(
        sent=Count("pk", filter=Q(status=DeliveryStatus.SENT)),
        failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED)),
        skipped=Count("pk", filter=Q(status=DeliveryStatus.SKIPPED)),
        delivered=Count("pk", filter=Q(status=DeliveryStatus.SENT, tracking_status__in=DELIVERED)),
        opened=Count("pk", filter=Q(status=DeliveryStatus.SENT, tracking_status__in=OPENED)),
        clicked=Count("pk", filter=Q(status=DeliveryStatus.SENT, tracking_status=TrackingStatus.CLICKED)),
        bounced=Count("pk", filter=Q(status=DeliveryStatus.SENT, tracking_status=TrackingStatus.BOUNCED)),
        complained=Count("pk", filter=Q(status=DeliveryStatus.SENT, tracking_status=TrackingStatus.COMPLAINED)),
        undelivered=Count("pk", filter=Q(status=DeliveryStatus.SENT, tracking_status__in=(
            TrackingStatus.UNDELIVERED, TrackingStatus.UNREACHABLE))),
        segments=Sum("segments", filter=Q(status=DeliveryStatus.SENT), default=0),
    )


def _report(*, title, tenant, posts, deliveries):
    rows = _post_rows(posts)
    email = _delivery_counts(deliveries, Channel.EMAIL)
    rows += [ReportRow("Emails", measure, str(email[key])) for measure, key in (
        ("Sent", "sent"), ("Delivered", "delivered"), ("Opened", "opened"), ("Clicked", "clicked"),
        ("Bounced", "bounced"), ("Marked as spam", "complained"), ("Failed to send", "failed"),
        ("Not sent (no consent or suppressed)", "skipped"))]
    texts = _delivery_counts(deliveries, Channel.SMS)
    rows += [ReportRow("Texts", measure, str(texts[key])) for measure, key in (
        ("Sent", "sent"), ("Delivered", "delivered"), ("Not delivered", "undelivered"), ("Failed to send", "failed"),
        ("Not sent (no consent or suppressed)", "skipped"), ("Segments sent", "segments"))]
    cost = sms_cost(segments=texts["segments"], price_per_segment=tenant.sms_price_per_segment)
    rows.append(ReportRow("Texts", "Cost", f"{cost} {tenant.sms_price_currency}" if cost is not None else "no price set"))
    return Report(title=title, rows=rows)


def promotion_report(*, promotion):
    return _report(title=promotion.event_name, tenant=promotion.club.tenant,
                   posts=SocialPost.objects.filter(tenant_id=promotion.tenant_id, dispatch__promotion=promotion),
                   deliveries=PromotionDelivery.objects.filter(dispatch__promotion=promotion))


def campaign_report(*, campaign):
    """The campaign's own posts (promotion posts of it included) and the emails and texts of its promotions."""
    return _report(title=campaign.name, tenant=campaign.tenant,
                   posts=SocialPost.objects.filter(tenant_id=campaign.tenant_id, campaign=campaign),
                   deliveries=PromotionDelivery.objects.filter(dispatch__tenant_id=campaign.tenant_id,
                                                               dispatch__promotion__campaign=campaign))
