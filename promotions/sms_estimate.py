"""What a promotion's texts will take before anything is sent: recipients, segments per step, and the cost.

Each recipient's own text is rendered (names change a text's length, and one character outside GSM-7
turns the whole text into UCS-2), up to ESTIMATE_RENDER_LIMIT recipients; past that the average of those
rendered stands for the rest. Numbers the dispatcher would skip (no valid E.164 form, suppressed) are not
counted. The cost is segments × the tenant's price per segment (crm.Tenant.sms_price_per_segment).
"""

from dataclasses import dataclass, field
from decimal import Decimal

from crm.models import Member
from promotions import messages
from promotions.models import Channel, DispatchKind
from promotions.recipients import recipient_id_pages
from promotions.sms import e164
from promotions.sms_segments import GSM7, UCS2, sms_cost, sms_size
from promotions.suppression import suppressions_for
from promotions.templating import TemplateRefused

ESTIMATE_RENDER_LIMIT = 500


@dataclass
class StepEstimate:
    kind: str
    days_before: int
    recipients: int
    segments: int
    encoding: str
    segments_per_text: int  # the most any one text of the step takes

    @property
    def label(self):
        return "Announcement" if self.kind == DispatchKind.ANNOUNCEMENT else f"Reminder {self.days_before} days before"


@dataclass
class SmsEstimate:
    recipients: int = 0
    segments: int = 0
    cost: Decimal | None = None
    currency: str = ""
    steps: list = field(default_factory=list)
    problem: str = ""

    def as_dict(self):
        return {
            "recipients": self.recipients, "segments": self.segments,
            "cost": None if self.cost is None else str(self.cost), "currency": self.currency, "problem": self.problem,
            "steps": [{"kind": s.kind, "days_before": s.days_before, "label": s.label, "recipients": s.recipients,
                       "segments": s.segments, "encoding": s.encoding, "segments_per_text": s.segments_per_text}
                      for s in self.steps],
        }


def _recipients(promotion):
    ids = [member_id for page in recipient_id_pages(promotion=promotion, channel=Channel.SMS, size=1000) for member_id in page]
    members = list(Member.objects.filter(pk__in=ids[:ESTIMATE_RENDER_LIMIT]).only(
        "id", "tenant_id", "first_name", "last_name", "phone").order_by("id"))
    numbers = {m.pk: e164(m.phone) for m in members}
    suppressed = suppressions_for(tenant_id=promotion.tenant_id, channel=Channel.SMS,
                                  addresses=[n for n in numbers.values() if n])
    reachable = [m for m in members if numbers[m.pk] and numbers[m.pk] not in suppressed]
    # Past the render limit, the share of reachable numbers among those looked at stands for the rest.
    total = len(reachable) if len(ids) <= len(members) else round(len(reachable) * len(ids) / max(len(members), 1))
    return reachable, total


def sms_estimate(*, promotion, tenant=None):
    """The estimate for a promotion (saved or not: an unsaved EventPromotion with its club and settings will do)."""
    tenant = tenant or promotion.club.tenant
    estimate = SmsEstimate(currency=tenant.sms_price_currency)
    members, total = _recipients(promotion)
    estimate.recipients = total
    steps = [(DispatchKind.ANNOUNCEMENT, 0)] + [(DispatchKind.REMINDER, d) for d in sorted(promotion.reminder_days or [], reverse=True)]
    for kind, days in steps:
        sizes = []
        try:
            base = messages.event_fields(promotion=promotion, kind=kind, days_before=days)
            for member in members:
                sizes.append(sms_size(messages.sms_text(promotion=promotion, member=member, kind=kind,
                                                        days_before=days, base=base)))
        except TemplateRefused as exc:
            estimate.problem = f"The SMS template is refused: {exc}"
            return estimate
        rendered = sum(s.segments for s in sizes)
        segments = rendered if len(sizes) >= total else round(rendered * total / max(len(sizes), 1))
        estimate.steps.append(StepEstimate(
            kind=kind, days_before=days, recipients=total, segments=segments,
            encoding=UCS2 if any(s.encoding == UCS2 for s in sizes) else GSM7,
            segments_per_text=max((s.segments for s in sizes), default=0)))
    estimate.segments = sum(s.segments for s in estimate.steps)
    estimate.cost = sms_cost(segments=estimate.segments, price_per_segment=tenant.sms_price_per_segment)
    return estimate


# What a template is counted with while it is written (the admin's template form): a typical event and member.
SAMPLE_FIELDS = {
    "club_name": "Royal Example Golf Club", "event_name": "Summer Medal", "event_starts_local": "Saturday 14 June 2031, 09:00",
    "event_starts_short": "Sat 14 Jun, 09:00", "event_date": "14 June 2031", "event_time": "09:00",
    "event_location": "Old Course", "event_url": "https://club.example/summer-medal?utm_source=sms&utm_medium=sms&utm_campaign=summer-medal",
    "event_image_url": "", "kind": "ANNOUNCEMENT", "days_before": 0,
    "first_name": "Alex", "last_name": "Example", "member_name": "Alex Example",
}


def sms_template_size(source):
    """(size of the template rendered with SAMPLE_FIELDS, "") or (None, why it is refused)."""
    from promotions import templating

    problems = templating.template_problems(source or "", place=templating.SMS)
    if problems:
        return None, "; ".join(problems)
    text = " ".join(templating.render(source or "", SAMPLE_FIELDS, place=templating.SMS).split())
    return sms_size(text), ""
