"""What each member reads: the email, the text message and the social post of one dispatch.

Every message, the standard ones and those staff write, is rendered by promotions.templating over
merge fields holding plain values. What comes out is plain text (never marked safe): the HTML
email escapes all of it, and the staff pages escape it like any other text.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import dateformat

from crm.clock import club_utc_to_local
from promotions import templating
from promotions.templating import EMAIL, SMS, SOCIAL
from promotions.tracked_links import tracked_url
from promotions.unsubscribe import unsubscribe_url

LONG_FORMAT = "l j F Y, H:i"
SHORT_FORMAT = "D j M H:i"
DATE_FORMAT = "l j F Y"
TIME_FORMAT = "H:i"

DEFAULT_EMAIL_SUBJECT = (
    '{% if kind == "REMINDER" %}{% if days_before == 1 %}Tomorrow{% else %}{{ days_before }} days to go{% endif %}: '
    "{{ event_name }}{% else %}{{ event_name }} at {{ club_name }}{% endif %}"
)
DEFAULT_EMAIL_BODY = """Hello {{ first_name }},

{% if kind == "REMINDER" %}{% if days_before == 1 %}Tomorrow{% else %}In {{ days_before }} days{% endif %}: \
{{ event_name }}{% else %}{{ club_name }} presents {{ event_name }}{% endif %}
When: {{ event_starts_local }}{% if event_location %}
Where: {{ event_location }}{% endif %}{% if event_url %}

Details and entry: {{ event_url }}{% endif %}

See you there,
{{ club_name }}"""
DEFAULT_SMS = (
    '{{ club_name }}: {% if kind == "REMINDER" %}{% if days_before == 1 %}tomorrow{% else %}in {{ days_before }} days'
    "{% endif %} - {% endif %}{{ event_name }}, {{ event_starts_short }}.{% if event_url %} {{ event_url }}{% endif %} "
    "Reply STOP to opt out"
)
DEFAULT_SOCIAL = (
    '{% if kind == "REMINDER" %}{% if days_before == 1 %}Tomorrow{% else %}{{ days_before }} days to go{% endif %}: '
    "{% endif %}{{ event_name }} at {{ club_name }} — {{ event_starts_local }}"
    "{% if event_location %}, {{ event_location }}{% endif %}."
)


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str
    unsubscribe_url: str


def _plain(text):
    # Django's renderer marks its output safe; what is built from event and member text must never be.
    return str.__str__(text)


def event_fields(*, promotion, kind, days_before):
    """The merge fields every member of one dispatch shares."""
    local_start = club_utc_to_local(promotion.club, promotion.event_starts_at)
    return {
        "club_name": promotion.club.name,
        "event_name": promotion.event_name,
        "event_starts_local": dateformat.format(local_start, LONG_FORMAT),
        "event_starts_short": dateformat.format(local_start, SHORT_FORMAT),
        "event_date": dateformat.format(local_start, DATE_FORMAT),
        "event_time": dateformat.format(local_start, TIME_FORMAT),
        "event_location": promotion.event_location or "",
        "event_url": promotion.event_url or "",
        "event_image_url": promotion.event_image_url or "",
        "kind": str(kind),
        "days_before": int(days_before),
    }


def member_fields(member):
    return {
        "first_name": member.first_name,
        "last_name": member.last_name,
        "member_name": f"{member.first_name} {member.last_name}".strip(),
    }


def _email_sources(promotion):
    template = promotion.email_template
    if template is None:
        return DEFAULT_EMAIL_SUBJECT, DEFAULT_EMAIL_BODY
    return template.subject or "{{ event_name }}", template.body


def _tracked(promotion, channel, network=None):
    """The event link as it goes out on the channel (to the network): with the tenant's UTM parameters."""
    return tracked_url(promotion.event_url or "", promotion=promotion, channel=channel, network=network)


def email_content(*, promotion, member, kind, days_before, base=None):
    fields = {**(base or event_fields(promotion=promotion, kind=kind, days_before=days_before)),
              **member_fields(member), "unsubscribe_url": unsubscribe_url(member=member),
              "event_url": _tracked(promotion, "EMAIL")}
    subject_source, body_source = _email_sources(promotion)
    subject = " ".join(templating.render(subject_source, fields, place=EMAIL).split())
    body = templating.render(body_source, fields, place=EMAIL).strip()
    # The wrappers are the product's own Django templates; the HTML one autoescapes the whole body.
    context = {**fields, "subject": subject, "body": body}
    return EmailContent(
        subject=subject,
        text=_plain(render_to_string("emails/promotion.txt", context)),
        html=_plain(render_to_string("emails/promotion.html", context)),
        unsubscribe_url=fields["unsubscribe_url"],
    )


def email_message(*, content, to, connection=None, metadata=None):
    message = EmailMultiAlternatives(
        subject=content.subject, body=content.text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to],
        connection=connection,
        # RFC 8058 one-click unsubscribe: mail clients POST "List-Unsubscribe=One-Click" to the URL.
        headers={"List-Unsubscribe": f"<{content.unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    message.attach_alternative(content.html, "text/html")
    if metadata:
        # Sent by anymail with the message (SMTP ignores it); the provider's events bring it back.
        message.metadata = metadata
        message.tags = ["promotion"]
    return message


def sms_text(*, promotion, member, kind, days_before, base=None):
    fields = {**(base or event_fields(promotion=promotion, kind=kind, days_before=days_before)), **member_fields(member),
              "event_url": _tracked(promotion, "SMS")}
    source = promotion.sms_template.body if promotion.sms_template is not None else DEFAULT_SMS
    return " ".join(templating.render(source, fields, place=SMS).split())


def social_text(*, promotion, kind, days_before, network=None):
    """The post's text; `network` (the connection's platform) names the UTM source of its event link."""
    fields = {**event_fields(promotion=promotion, kind=kind, days_before=days_before),
              "event_url": _tracked(promotion, "SOCIAL", network)}
    return templating.render(promotion.social_content or DEFAULT_SOCIAL, fields, place=SOCIAL).strip()


def template_problem(*, promotion, channel):
    """Why the promotion's stored template for `channel` cannot be sent (a sentence), or "" when it can."""
    if channel == "EMAIL":
        sources = [(EMAIL, source) for source in _email_sources(promotion)]
    elif channel == "SMS":
        sources = [(SMS, promotion.sms_template.body if promotion.sms_template is not None else DEFAULT_SMS)]
    else:
        sources = [(SOCIAL, promotion.social_content or DEFAULT_SOCIAL)]
    problems = [p for place, source in sources for p in templating.template_problems(source, place=place)]
    if not problems:
        return ""
    where = {"EMAIL": "email template", "SMS": "SMS template"}.get(channel, "social post text")
    return f"The {where} is refused: {'; '.join(problems)}"

