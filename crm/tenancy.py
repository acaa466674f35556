"""The one place that decides what a user may see: their tenant, and their clubs when limited.

Pages, the API and the admin all call ``scope_queryset``; an id from elsewhere is simply absent.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Q

from crm.models import Club, StaffMembership


def membership_of(user):
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.membership
    except StaffMembership.DoesNotExist:
        return None


def allowed_club_ids(user):
    """None when the user may see every club of the tenant; otherwise the set of club ids."""
    membership = membership_of(user)
    if membership is None:
        return set()
    # Looked up once per membership object (i.e. per request); "every club" (None) is remembered too.
    if not hasattr(membership, "_club_ids_cache"):
        membership._club_ids_cache = set(membership.clubs.values_list("id", flat=True)) or None
    return membership._club_ids_cache


def remember_club_scope(membership, *, every_club):
    """Record what a query that already read the membership found: not limited to any club (every
    club of the tenant), so ``allowed_club_ids`` need not look again for this request."""
    if every_club:
        membership._club_ids_cache = None


def visible_clubs(user):
    return scope_queryset(Club.objects.all(), user)


def _lookup(path):
    """``"pk"`` means the row itself is the tenant (or club); otherwise the path names a foreign key."""
    return "pk" if path == "pk" else f"{path}_id"


def scope_queryset(queryset, user, *, all_tenants_for_superuser=False):
    """Restrict ``queryset`` to what ``user`` may see.

    Models name their tenant path with ``tenant_path`` (default ``"tenant"``; ``"pk"`` for the tenant
    itself) and, when rows belong to a club, their club path with ``club_path`` (``"pk"`` for a club);
    ``club_may_be_empty`` marks rows without a club as tenant-wide (visible to club-limited staff too).
    Logins are scoped to the users of the tenant, never superusers. A model that belongs to no tenant
    is visible to nobody but superusers.
    """
    model = queryset.model
    if all_tenants_for_superuser and getattr(user, "is_superuser", False):
        return queryset
    membership = membership_of(user)
    if membership is None:
        return queryset.none()
    if model is get_user_model():
        return queryset.filter(membership__tenant_id=membership.tenant_id, is_superuser=False)
    tenant_path = getattr(model, "tenant_path", "tenant")
    if tenant_path != "pk" and not _has_field(model, tenant_path):
        return queryset.none()
    queryset = queryset.filter(**{_lookup(tenant_path): membership.tenant_id})
    club_path = getattr(model, "club_path", None)
    club_ids = allowed_club_ids(user)
    if club_path and club_ids is not None:
        condition = Q(**{f"{_lookup(club_path)}__in": club_ids})
        if getattr(model, "club_may_be_empty", False):
            condition |= Q(**{f"{club_path}__isnull": True})
        queryset = queryset.filter(condition)
    return queryset


def _has_field(model, path):
    name = path.split("__", 1)[0]
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def visible_row(queryset, user, pk):
    """The row with ``pk`` if ``user`` may see it; None alike for another tenant's, an unknown or a malformed id."""
    try:
        return scope_queryset(queryset, user).filter(pk=pk).first()
    except (ValidationError, ValueError):
        return None


def require_membership(user):
    membership = membership_of(user)
    if membership is None:
        raise PermissionDenied("This login is not a member of any club organisation.")
    return membership
