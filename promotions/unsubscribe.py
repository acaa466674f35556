"""One-click unsubscribe links: a signed member id, so the link works without a login and cannot be forged."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "promotions.unsubscribe"


def unsubscribe_token(*, member):
    return signing.dumps({"member": str(member.pk), "tenant": member.tenant_id}, salt=SALT, compress=True)


def unsubscribe_url(*, member):
    return settings.SITE_URL + reverse("promotions:unsubscribe", args=[unsubscribe_token(member=member)])


def member_id_from_token(token):
    """The member id the token was made for, or None when it was tampered with."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return data.get("member") if isinstance(data, dict) else None
