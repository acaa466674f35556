import re
import zoneinfo

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import transaction

from crm.models import Club, StaffMembership, StaffRole, Tenant

# Apps a tenant admin manages in Django admin (their own tenant's rows only).
ADMIN_APPS = ["crm", "connections", "posts", "promotions", "notifications"]


@transaction.atomic
def staff_create(*, tenant_id, username, password, role=StaffRole.STAFF, club_ids=(), check_password=True):
    """Create or update a staff login with its tenant membership. Idempotent.

    The password must pass AUTH_PASSWORD_VALIDATORS; only the local demo seed skips them.
    """
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        raise ValidationError(f"Tenant '{tenant_id}' does not exist.")
    if role not in StaffRole.values:
        raise ValidationError(f"Role must be one of {', '.join(StaffRole.values)}.")
    clubs = list(Club.objects.filter(tenant=tenant, pk__in=club_ids))
    unknown = sorted(set(club_ids) - {club.pk for club in clubs})
    if unknown:
        raise ValidationError(f"Club(s) {', '.join(unknown)} do not belong to tenant '{tenant_id}'.")
    if not username or not password:
        raise ValidationError("A username and a password are required.")

    User = get_user_model()
    if check_password:
        existing_user = User.objects.filter(username=username).first()
        try:
            password_validation.validate_password(password, existing_user or User(username=username))
        except ValidationError as exc:
            raise ValidationError([f"Password refused: {message}" for message in exc.messages]) from None
    user, created = User.objects.get_or_create(username=username)
    existing = StaffMembership.objects.filter(user=user).first()
    if existing is not None and existing.tenant_id != tenant.pk:
        raise ValidationError(f"User '{username}' already belongs to tenant '{existing.tenant_id}'.")
    user.set_password(password)
    user.is_staff = role == StaffRole.ADMIN
    user.save()
    membership, _ = StaffMembership.objects.update_or_create(user=user, defaults={"tenant": tenant, "role": role})
    membership.clubs.set(clubs)
    if role == StaffRole.ADMIN:
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label__in=ADMIN_APPS).exclude(
                codename__in=["add_tenant", "delete_tenant"]
            )
        )
    else:
        user.user_permissions.clear()
    return user, created


TENANT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")


@transaction.atomic
def tenant_create(*, tenant_id, name, club_name, timezone="UTC"):
    """An operator creates a tenant with its first club. An existing id is refused, never overwritten."""
    errors = {}
    tenant_id = (tenant_id or "").strip()
    if not TENANT_ID_PATTERN.match(tenant_id):
        errors["id"] = ("A tenant id is 3 to 64 lower-case letters, digits and hyphens, "
                        "starting and ending with a letter or digit.")
    elif Tenant.objects.filter(pk=tenant_id).exists():
        errors["id"] = f"Tenant '{tenant_id}' already exists; choose another id."
    if not (name or "").strip():
        errors["name"] = "A tenant name is required."
    if not (club_name or "").strip():
        errors["club_name"] = "The first club's name is required."
    if timezone not in zoneinfo.available_timezones():
        errors["timezone"] = f"'{timezone}' is not a time zone; use an IANA name such as Europe/London."
    if errors:
        raise ValidationError(errors)
    tenant = Tenant.objects.create(id=tenant_id, name=name.strip())
    club = Club.objects.create(tenant=tenant, name=club_name.strip(), timezone=timezone)
    return tenant, club


def tenant_rotate_event_secret(*, tenant):
    """Give the tenant a new inbound-event signing secret; events signed with the old one are refused."""
    from crm.models import new_event_secret

    tenant.inbound_event_secret = new_event_secret()
    tenant.save(update_fields=["inbound_event_secret"])
    return tenant


def tenant_settings_update(*, tenant, by, posts_need_approval=None):
    """Change the organisation's settings (tenant admins): for now, whether staff posts need approval."""
    fields = []
    if posts_need_approval is not None:
        tenant.posts_need_approval = bool(posts_need_approval)
        fields.append("posts_need_approval")
    if fields:
        tenant.save(update_fields=fields)
    return tenant
