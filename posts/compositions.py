"""Writes on compositions: one post written once, with a version per network.

A composition holds the base text, hashtags, link and media. Each version is an ordinary SocialPost
(the exact thing published to its connection) holding the resolved values; the fields it sets apart
are listed in ``overridden_fields``, and an edit of the base reaches every version in the fields it
does not override. Versions are created, edited and moved through ``posts.services``, so the content
rules and the status flow are the same as for any post.
"""


from django.core.exceptions import ValidationError
from django.db import transaction

from crm.tenancy import allowed_club_ids, membership_of
from posts import services
from posts.models import VERSION_FIELDS, Composition, SocialPost
from posts.models import SocialPostStatus as S
from posts.states import EDITABLE


class VersionsRefused(ValidationError):
    """Some versions broke their network's rules: every refusal, named by account, and by connection id."""

    def __init__(self, by_connection, labels):
        self.by_connection = by_connection  # {connection id (str): [messages]}
        super().__init__([f"{labels[key]}: {m}" if key in labels else m
                          for key, found in by_connection.items() for m in found])


def _label(connection):
    return connection.account_name


def _clean_base(*, content, hashtags, link_url, media_urls):
    return {"content": content or "", "hashtags": services._clean_list(hashtags), "link_url": link_url or None,
            "media_urls": services._clean_list(media_urls)}


def _clean_override(values):
    """An override's fields, cleaned as the base is; unknown field names are refused."""
    unknown = set(values) - set(VERSION_FIELDS)
    if unknown:
        raise ValidationError({"overrides": f"A version can set apart only {', '.join(VERSION_FIELDS)}."})
    cleaned = {}
    for name, value in values.items():
        if name in ("hashtags", "media_urls"):
            cleaned[name] = services._clean_list(value)
        elif name == "link_url":
            cleaned[name] = value or None
        else:
            cleaned[name] = value or ""
    return cleaned


def composition_club(connections):
    """The one club every account belongs to; None when they serve the whole tenant or several clubs."""
    clubs = {c.club_id for c in connections}
    return next(iter(clubs)) if len(clubs) == 1 else None


def composition_create(*, tenant, connections, content="", hashtags=(), link_url=None, media_urls=(), campaign=None,
                       overrides=None, scheduled_at=None, publish_now=False, add_to_queue=False, club=None, by):
    """A composition and one version per connection, all or none.

    ``overrides`` maps a connection id to the fields its version sets apart ({"content": ..., "media_urls":
    [...]}); each version is held to its own network's rules and every refusal is reported by account
    (``VersionsRefused``). ``scheduled_at`` is one time or a function of the connection; ``add_to_queue``
    takes each connection's next free posting slot instead (on its club's clock, else ``club``'s).
    """
    connections = list(connections)
    if not connections:
        raise ValidationError({"connections": "Choose at least one account to post to."})
    scheduled_at = services.publish_time(scheduled_at=scheduled_at, publish_now=publish_now,
                                         add_to_queue=add_to_queue, club=club)
    overrides = {str(k): _clean_override(v or {}) for k, v in (overrides or {}).items()}
    strangers = set(overrides) - {str(c.pk) for c in connections}
    if strangers:
        raise ValidationError({"overrides": "Each version must be for one of the chosen accounts."})
    base = _clean_base(content=content, hashtags=hashtags, link_url=link_url, media_urls=media_urls)
    refused, labels = {}, {}
    with transaction.atomic():
        composition = Composition.objects.create(
            tenant=tenant, club_id=composition_club(connections), campaign=campaign, created_by=services.actor_name(by),
            **base)
        for connection in connections:
            own = overrides.get(str(connection.pk), {})
            overridden = [f for f in VERSION_FIELDS if f in own and own[f] != base[f]]
            try:
                with transaction.atomic():
                    post = services.post_create(
                        tenant=tenant, connection=connection, campaign=campaign, created_by=by,
                        scheduled_at=scheduled_at(connection) if callable(scheduled_at) else scheduled_at,
                        composition=composition, overridden_fields=overridden, **{**base, **own})
                    if publish_now:
                        services.post_publish_now(post=post, by=by)
            except ValidationError as exc:
                refused[str(connection.pk)] = exc.messages
                labels[str(connection.pk)] = _label(connection)
        if refused:
            transaction.set_rollback(True)
            raise VersionsRefused(refused, labels)
    return composition


def _check_whole(*, composition, by):
    """Staff limited to some clubs may change a composition only when every version is for their clubs."""
    clubs = allowed_club_ids(by) if membership_of(by) is not None else None
    if clubs is None:
        return
    if composition.versions.exclude(connection__club__isnull=True).exclude(connection__club__in=clubs).exists():
        raise ValidationError("This post also goes to accounts of clubs you do not manage; ask an admin to change it.")


def composition_update(*, composition, by, campaign=..., **changes):
    """Edit the base; every version follows in the fields it does not override.

    Drafts and failed versions are edited (a failed one stays retryable); a published or publishing
    version keeps what went out. A scheduled version the edit would change is refused: cancel it first,
    as for any scheduled post. All or none.
    """
    unknown = set(changes) - set(VERSION_FIELDS)
    if unknown:
        raise TypeError(f"Unknown fields: {', '.join(sorted(unknown))}")
    changes = _clean_override(changes)
    refused, labels = {}, {}
    with transaction.atomic():
        composition = Composition.objects.select_for_update().get(pk=composition.pk)
        _check_whole(composition=composition, by=by)
        for name, value in changes.items():
            setattr(composition, name, value)
        if campaign is not ...:
            services._check_campaign(tenant=composition.tenant, campaign=campaign)
            composition.campaign = campaign
        composition.save()
        versions = SocialPost.objects.select_for_update().select_related("connection").filter(
            composition=composition).order_by("pk")
        for post in versions:
            follow = {name: value for name, value in changes.items()
                      if name not in (post.overridden_fields or []) and getattr(post, name) != value}
            if campaign is not ... and post.campaign_id != getattr(campaign, "pk", None):
                follow["campaign"] = campaign
            if not follow or post.status in (S.PUBLISHED, S.PUBLISHING):
                continue
            if post.status not in EDITABLE:
                refused[str(post.connection_id)] = [
                    "It is scheduled: cancel it before changing what it shares with the other networks."]
                labels[str(post.connection_id)] = _label(post.connection)
                continue
            try:
                with transaction.atomic():
                    services.post_update(post=post, by=by, follows_base=True, **follow)
            except ValidationError as exc:
                refused[str(post.connection_id)] = exc.messages
                labels[str(post.connection_id)] = _label(post.connection)
        if refused:
            transaction.set_rollback(True)
            raise VersionsRefused(refused, labels)
    return composition


def version_update(*, post, by, changes=None, reset=()):
    """Set a version's own values (``changes``), or let fields follow the base again (``reset``)."""
    if post.composition_id is None:
        raise ValidationError("This post is not one network's version of a composition.")
    composition = Composition.objects.get(pk=post.composition_id)
    values = _clean_override(changes or {})
    unknown = set(reset) - set(VERSION_FIELDS)
    if unknown:
        raise ValidationError({"reset": f"Only {', '.join(VERSION_FIELDS)} can follow the base."})
    for name in reset:
        values[name] = getattr(composition, name)
    if not values:
        return post
    return services.post_update(post=post, by=by, **values)


def composition_edit(*, composition, by, base=None, campaign=..., versions=()):
    """One edit of a composition, all or none: the base (versions follow where they do not override), then
    each version's own fields. ``versions`` is a list of (post, changes, reset) for versions of this
    composition."""
    with transaction.atomic():
        if base or campaign is not ...:
            composition_update(composition=composition, by=by, campaign=campaign, **(base or {}))
        else:
            _check_whole(composition=composition, by=by)
        for post, changes, reset in versions:
            if post.composition_id != composition.pk:
                raise ValidationError({"versions": "Each version must be one of this post's versions."})
            version_update(post=post, by=by, changes=changes, reset=reset)
    return Composition.objects.get(pk=composition.pk)


def composition_schedule(*, composition, at, by):
    """Schedule every draft version at ``at`` (scheduled ones move to it), all or none; each is held to
    its network's rules again. Published, publishing and failed versions are left as they are."""
    refused, labels = {}, {}
    with transaction.atomic():
        composition = Composition.objects.select_for_update().get(pk=composition.pk)
        _check_whole(composition=composition, by=by)
        for post in composition.versions.select_related("connection").order_by("pk"):
            if post.status not in (S.DRAFT, S.SCHEDULED):
                continue
            try:
                with transaction.atomic():
                    services.post_schedule(post=post, at=at, by=by)
            except ValidationError as exc:
                refused[str(post.connection_id)] = exc.messages
                labels[str(post.connection_id)] = _label(post.connection)
        if refused:
            transaction.set_rollback(True)
            raise VersionsRefused(refused, labels)
    return composition


def composition_delete(*, composition, by):
    """Delete a composition and every version that has not started publishing; published ones are kept."""
    with transaction.atomic():
        composition = Composition.objects.select_for_update().get(pk=composition.pk)
        _check_whole(composition=composition, by=by)
        for post in composition.versions.order_by("pk"):
            if post.status not in (S.PUBLISHED, S.PUBLISHING):
                services.post_delete(post=post, by=by)
        if not composition.versions.exists():
            composition.delete()
