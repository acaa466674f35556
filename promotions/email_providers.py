"""What differs between email providers once anymail has normalised their webhooks.

anymail turns each provider's tracking webhook into one AnymailTrackingEvent and verifies its signature
(Mailgun's HMAC, the others' basic auth). Two things it leaves to us: which of its webhook views are
mounted (only the providers in EMAIL_TRACKING_PROVIDERS, so an unconfigured provider's view is never open),
and whether a bounce is final — some providers report a soft bounce as "bounced" and say so only in
their own payload.
"""

from anymail.signals import EventType, RejectReason
from django.conf import settings
from django.urls import include, path

from promotions.models import TrackingStatus

# A provider's own word for a bounce that may pass (its payload field, and the values meaning "soft").
SOFT_BOUNCE_MARKERS = {
    "postmark": ("Type", {"SoftBounce", "Transient", "DnsError"}),
    "brevo": ("event", {"soft_bounce", "deferred"}),
    "mailjet": ("hard_bounce", {False}),
}


def _provider_key(esp_name):
    return (esp_name or "").strip().lower().replace(" ", "_")


def _is_soft(event, esp_name):
    field, values = SOFT_BOUNCE_MARKERS.get(_provider_key(esp_name), (None, ()))
    payload = event.esp_event if isinstance(event.esp_event, dict) else {}
    return field is not None and payload.get(field) in values


def tracking_status_of(event, esp_name):
    """The delivery status an anymail tracking event stands for; None for what it does not track."""
    kind = event.event_type
    if kind == EventType.DEFERRED:
        return TrackingStatus.SOFT_BOUNCED
    if kind == EventType.BOUNCED:
        return TrackingStatus.SOFT_BOUNCED if _is_soft(event, esp_name) else TrackingStatus.BOUNCED
    if kind == EventType.REJECTED and event.reject_reason in (RejectReason.BOUNCED, RejectReason.INVALID):
        return TrackingStatus.BOUNCED  # the provider refused to send to an address it knows is dead
    if kind == EventType.COMPLAINED:
        return TrackingStatus.COMPLAINED
    return {
        EventType.DELIVERED: TrackingStatus.DELIVERED,
        EventType.OPENED: TrackingStatus.OPENED,
        EventType.CLICKED: TrackingStatus.CLICKED,
    }.get(kind)


def tracking_webhook_urls():
    """anymail's tracking webhook views for the configured providers only, at /anymail/<provider>/tracking/."""
    from anymail import urls as anymail_urls

    wanted = {f"{_provider_key(name)}_tracking_webhook" for name in settings.EMAIL_TRACKING_PROVIDERS}
    patterns = [pattern for pattern in anymail_urls.urlpatterns if pattern.name in wanted]
    return path("anymail/", include((patterns, "anymail"), namespace="anymail"))
