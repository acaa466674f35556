"""Addresses a tenant no longer sends to, per channel: added by bounces and complaints, lifted by staff.

A suppression names an address, not a member: two members sharing an address share its fate, and a member
whose address changes is no longer held back. The dispatcher asks `suppressions_for` once per batch and
records the reason on each delivery it skips. SMS can add its own reasons on the same rows.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import dateformat, timezone

from crm.clock import club_utc_to_local
from promotions.models import Channel, Suppression

DATE_FORMAT = "j F Y"


def normalised_address(*, channel, address):
    address = (address or "").strip()
    return address.lower() if channel == Channel.EMAIL else address


def suppression_add(*, tenant_id, channel, address, reason, source_event=None, source_receipt=None, at=None):
    """Suppress the address for the tenant on the channel; the standing suppression when there already is one."""
    address = normalised_address(channel=channel, address=address)
    standing = Suppression.objects.filter(tenant_id=tenant_id, channel=channel, address=address, lifted_at__isnull=True)
    found = standing.first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Suppression.objects.create(tenant_id=tenant_id, channel=channel, address=address, reason=reason,
                                              source_event=source_event, source_receipt=source_receipt,
                                              created_at=at or timezone.now())
    except IntegrityError:  # another event suppressed it a moment ago (the partial unique index holds)
        return standing.get()


def suppression_lift(*, suppression, by, note, at=None):
    """Staff lift a suppression (the member fixed their address, or asked for mail again); a note says why."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"lift_note": "Say why the suppression is lifted (for example: the member confirmed the address)."})
    lifted = Suppression.objects.filter(pk=suppression.pk, lifted_at__isnull=True).update(
        lifted_at=at or timezone.now(), lifted_by=by, lift_note=note)
    if not lifted:
        raise ValidationError("This suppression was already lifted.")
    suppression.refresh_from_db()
    return suppression


def suppressions_for(*, tenant_id, channel, addresses):
    """The standing suppressions among `addresses`, by normalised address."""
    wanted = {normalised_address(channel=channel, address=a) for a in addresses if a}
    if not wanted:
        return {}
    rows = Suppression.objects.filter(tenant_id=tenant_id, channel=channel, address__in=wanted, lifted_at__isnull=True)
    return {row.address: row for row in rows}


def suppression_summary(suppression, *, club=None):
    """One line for staff: why and since when, on the club's calendar when there is a club (UTC otherwise)."""
    if club is not None:
        when = dateformat.format(club_utc_to_local(club, suppression.created_at), DATE_FORMAT)
    else:
        when = dateformat.format(suppression.created_at.astimezone(datetime.UTC), DATE_FORMAT) + " (UTC)"
    return f"{suppression.get_reason_display()} — not sent to since {when}"


def member_suppressions(*, member):
    """The member's standing suppressions (their email and their phone), newest first."""
    found = []
    for channel, address in ((Channel.EMAIL, member.email), (Channel.SMS, member.phone)):
        if address:
            found += suppressions_for(tenant_id=member.tenant_id, channel=channel, addresses=[address]).values()
    return sorted(found, key=lambda s: s.created_at, reverse=True)
