"""What each member reads: the email, the text message and the social post of one dispatch."""

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import engines
from django.template.loader import render_to_string
from django.utils import dateformat, timezone

from promotions.planning import club_zone
from promotions.unsubscribe import unsubscribe_url

LONG_FORMAT = "l j F Y, H:i"
SHORT_FORMAT = "D j M H:i"


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str
    unsubscribe_url: str


def event_context(*, promotion, kind, days_before):
    local_start = timezone.localtime(promotion.event_starts_at, club_zone(promotion.club))
    return {
        "promotion": promotion,
        "club": promotion.club,
        "kind": kind,
        "days_before": days_before,
        "event": {
            "name": promotion.event_name,
            "starts_at": local_start,
            "location": promotion.event_location,
            "url": promotion.event_url,
            "image_url": promotion.event_image_url,
        },
        "event_starts_local": dateformat.format(local_start, LONG_FORMAT),
        "event_starts_short": dateformat.format(local_start, SHORT_FORMAT),
    }


def _render_text(source, context):
    # Staff-written templates render with autoescape off: these are plain-text bodies, not HTML.
    return engines["django"].from_string("{% autoescape off %}" + source + "{% endautoescape %}").render(context)


def email_content(*, promotion, member, kind, days_before, base=None):
    context = {**(base or event_context(promotion=promotion, kind=kind, days_before=days_before)), "member": member}
    context["unsubscribe_url"] = unsubscribe_url(member=member)
    template = promotion.email_template
    if template is not None:
        subject = _render_text(template.subject or promotion.event_name, context)
        body = _render_text(template.body, context)
    else:
        subject = render_to_string("emails/promotion_subject.txt", context)
        body = render_to_string("emails/promotion_body.txt", context)
    subject = " ".join(subject.split())
    context.update(subject=subject, body=body.strip())
    return EmailContent(
        subject=subject,
        text=render_to_string("emails/promotion.txt", context),
        html=render_to_string("emails/promotion.html", context),
        unsubscribe_url=context["unsubscribe_url"],
    )


def email_message(*, content, to, connection=None):
    message = EmailMultiAlternatives(
        subject=content.subject, body=content.text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to],
        connection=connection,
        # RFC 8058 one-click unsubscribe: mail clients POST "List-Unsubscribe=One-Click" to the URL.
        headers={"List-Unsubscribe": f"<{content.unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    message.attach_alternative(content.html, "text/html")
    return message


def sms_text(*, promotion, member, kind, days_before, base=None):
    context = {**(base or event_context(promotion=promotion, kind=kind, days_before=days_before)), "member": member}
    if promotion.sms_template is not None:
        text = _render_text(promotion.sms_template.body, context)
    else:
        text = render_to_string("promotions/messages/sms.txt", context)
    return " ".join(text.split())


def social_text(*, promotion, kind, days_before):
    if promotion.social_content:
        return promotion.social_content.strip()
    context = event_context(promotion=promotion, kind=kind, days_before=days_before)
    return render_to_string("promotions/messages/social.txt", context).strip()
