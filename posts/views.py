"""Staff pages for posts: list, composer, calendar, detail. Thin: parse, call a service or selector, render."""

import json
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from connections.models import SocialConnection, SocialPlatform
from connections.selectors import posts_with_connection_warnings
from crm import dates
from crm.clock import club_local_to_utc, club_utc_to_local, club_zone
from crm.history import actor_label, history_entries
from crm.middleware import club_from_query
from crm.models import Campaign, Club
from crm.tenancy import require_membership, scope_queryset, visible_clubs, visible_row
from library.selectors import media_get as selectors_media_get
from library.views import library_choices, library_chosen, upload_club, upload_into_library
from platforms import PostContent, get_adapter
from platforms.fetch import stored_media_name
from posts import calendar as planning
from posts import compositions, previews, selectors, services
from posts.approvals import NotAnApprover, approval_actions, check_may_go_out
from posts.content import post_content
from posts.models import ApprovalState, Composition, SocialPost, SocialPostStatus
from posts.states import EDITABLE, IllegalTransition, allowed_actions, check_action, retry_block
from socialcrm.inputs import date_in_range, uuid_or_none
from socialcrm.keyset import InvalidCursor

LIST_PAGE_SIZE = 50


def _zone(club):
    return club_zone(club)


def _split_tags(raw):
    return [t for t in (raw or "").replace(",", " ").split() if t.strip("#")]


# ----------------------------------------------------------------------------- list


@login_required
@club_from_query
def post_index(request):
    if request.method == "POST":
        return _bulk(request)
    # Which club's posts: the current club (the header's switcher; ?club= switches it), never a second filter.
    filters = {k: request.GET.get(k, "").strip() for k in ("status", "platform", "campaign", "approval")}
    if filters["approval"] not in ApprovalState.values:
        filters["approval"] = ""
    if filters["campaign"] and uuid_or_none(filters["campaign"]) is None:
        messages.warning(request, "That campaign was not found; showing every campaign.")
        filters["campaign"] = ""
    for name in ("date_from", "date_to"):
        raw = request.GET.get(name, "")
        try:
            day = date_in_range(date.fromisoformat(raw)) + timedelta(days=1 if name == "date_to" else 0)
            filters[name] = club_local_to_utc(request.club, datetime.combine(day, datetime.min.time()))
        except ValueError:
            if raw:
                messages.warning(request, f"“{raw[:20]}” is not a date; showing posts of every date.")
            continue
        except ValidationError as exc:
            messages.warning(request, " ".join(exc.messages))
            continue
    posts = selectors.post_list(user=request.user, club=request.club, filters=filters)
    try:
        page = selectors.post_page(posts=posts, cursor=request.GET.get("cursor") or None, size=LIST_PAGE_SIZE)
    except InvalidCursor:
        messages.warning(request, "That page link is not valid for this list; showing the newest posts.")
        page = selectors.post_page(posts=posts, size=LIST_PAGE_SIZE)
    counts = selectors.post_counts_by_status(
        posts=posts, statuses=[filters["status"]] if filters["status"] in SocialPostStatus.values else None,
        cap=selectors.COUNT_CAP)
    cap = selectors.COUNT_CAP
    return render(request, "posts/list.html", {
        "rows": selectors.composition_rows(user=request.user, posts=posts_with_connection_warnings(list(page.rows))),
        "query": request.GET, "statuses": SocialPostStatus.choices,
        "approval_states": [(v, label) for v, label in ApprovalState.choices if v != ApprovalState.NOT_NEEDED],
        "platforms": SocialPlatform.choices,
        "campaigns": selectors.composer_campaigns(user=request.user),
        "counts": [(label, min(counts[value], cap), counts[value] > cap) for value, label in SocialPostStatus.choices
                   if counts.get(value)],
        "newest_url": _list_url(request, None) if not page.at_start else None,
        "newer_url": page.previous and _list_url(request, page.previous),
        "older_url": page.next and _list_url(request, page.next),
    })


def _list_url(request, cursor):
    """This list with its filters, at another page (``cursor``), or at the newest posts (None)."""
    query = request.GET.copy()
    query.pop("cursor", None)
    if cursor:
        query["cursor"] = cursor
    return f"{request.path}?{query.urlencode()}" if query else request.path


def _bulk(request):
    action = request.POST.get("bulk")
    service = {"cancel": services.post_cancel, "retry": services.post_retry}.get(action)
    ids = [pk for pk in request.POST.getlist("post") if uuid_or_none(pk)]
    if service is None or not ids:
        messages.warning(request, "Choose some posts and an action.")
        return redirect(request.get_full_path())
    done, refused = 0, []
    try:
        chosen = list(selectors.post_list(user=request.user).filter(pk__in=ids))
    except ValidationError:  # a malformed id names no post
        chosen = []
    for post in chosen:
        try:
            service(post=post, by=request.user)
            done += 1
        except IllegalTransition as exc:
            refused.append(exc.message)
        except ValidationError as exc:
            refused.append(" ".join(exc.messages))
    if done:
        messages.success(request, f"{done} post{'s' if done != 1 else ''} {'cancelled' if action == 'cancel' else 'retried'}.")
    for message in sorted(set(refused)):
        messages.warning(request, message)
    return redirect(request.get_full_path())


# ----------------------------------------------------------------------------- composer


@login_required
def compose(request):
    """One base text for every chosen account; each account's section may set its own text, hashtags,
    link and media. Several accounts make one composition with a version per account."""
    membership = require_membership(request.user)
    groups = selectors.composer_connections(user=request.user)
    campaigns = selectors.composer_campaigns(user=request.user)
    form = {"content": "", "hashtags": "", "link_url": "", "media_urls": [], "connections": [], "campaign": "",
            "scheduled_local": "", "stored_media": [], "library_media": [], "library_alt": {}, "versions": {}}
    errors, version_errors = [], {}
    slot = dates.parse_picker(request.GET.get("at")) if request.method == "GET" else None
    if slot is not None:  # a free slot clicked on the calendar
        form["scheduled_local"] = dates.picker_value(slot)
    if request.method == "POST":
        form = {
            "content": request.POST.get("content", ""), "hashtags": request.POST.get("hashtags", ""),
            "link_url": request.POST.get("link_url", "").strip(),
            "media_urls": [u for u in request.POST.getlist("media_urls") if u.strip()],
            "connections": request.POST.getlist("connections"), "campaign": request.POST.get("campaign", ""),
            "scheduled_local": request.POST.get("scheduled_local", ""),
            "stored_media": request.POST.getlist("stored_media"),
            "library_media": request.POST.getlist("library_media"),
            "library_alt": {k[len("alt_"):]: v for k, v in request.POST.items() if k.startswith("alt_")},
            "upload_alt": request.POST.get("upload_alt", ""),
            "versions": {pk: _version_form(request, pk) for c in (c for _, cs in groups for c in cs)
                         if (pk := str(c.pk)) in request.POST.getlist("connections")},
        }
        intent = request.POST.get("intent", "draft")
        if intent not in ("draft", "schedule", "publish", "queue"):
            intent = "draft"
        try:
            created = _compose_posts(request, membership.tenant, form, intent)
        except compositions.VersionsRefused as exc:
            errors, version_errors = exc.messages, exc.by_connection
        except ValidationError as exc:
            errors = exc.messages
        else:
            label = {"draft": "saved as draft", "schedule": "scheduled", "publish": "sent for publishing",
                     "queue": "added to the queue"}[intent]
            made = list(created.versions.all()) if isinstance(created, Composition) else created
            waiting = sum(p.approval_state == ApprovalState.PENDING for p in made)
            if waiting:  # asked for a time, but an approver schedules them
                label = ("sent for approval; it is scheduled once approved" if waiting == len(made) else
                         f"saved; {waiting} of them wait for approval before they are scheduled")
            if isinstance(created, Composition):
                messages.success(request, f"Post for {len(made)} accounts {label}.")
                return redirect("posts:composition", composition_id=created.pk)
            messages.success(request, f"{len(created)} post{'s' if len(created) != 1 else ''} {label}.")
            if len(created) == 1:
                return redirect("posts:detail", post_id=created[0].pk)
            return redirect("posts:list")
    attached = [{"name": name, "label": name.rsplit("/", 1)[-1]} for name in form["stored_media"]]
    versions = []
    for _club_of, connections in groups:
        for c in connections:
            own = form["versions"].get(str(c.pk)) or _version_form(None, str(c.pk))
            versions.append({"connection": c, "chosen": str(c.pk) in form["connections"], "form": own,
                             "errors": version_errors.get(str(c.pk), []),
                             "attached": [{"name": n, "label": n.rsplit("/", 1)[-1]} for n in own["stored_media"]],
                             "library": library_choices(request, chosen=own["library_media"], alts=own["library_alt"],
                                                        club=c.club if c.club_id else None),
                             "changed": any(own[k] for k in ("content", "hashtags", "link_url", "stored_media",
                                                             "library_media", "no_media"))})
    return render(request, "posts/compose.html", {
        "attached": attached, "groups": groups, "campaigns": campaigns, "form": form, "errors": errors,
        "rules_url": reverse("posts:rules"), "club": request.club,
        "library": library_choices(request, chosen=form["library_media"], alts=form["library_alt"]),
        "best_times": planning.best_posting_times(user=request.user, club=request.club),
        "versions": versions, "preview_url": reverse("posts:preview"),
    })


def _version_form(request, pk):
    """One account's own fields as the composer sent them (blank: the same as the base)."""
    if request is None:
        return {"content": "", "hashtags": "", "link_url": "", "stored_media": [], "library_media": [],
                "library_alt": {}, "upload_alt": "", "no_media": False}
    alt = f"v-{pk}-alt_"
    return {"content": request.POST.get(f"v-{pk}-content", ""), "hashtags": request.POST.get(f"v-{pk}-hashtags", ""),
            "link_url": request.POST.get(f"v-{pk}-link_url", "").strip(),
            "stored_media": request.POST.getlist(f"v-{pk}-stored_media"),
            "library_media": request.POST.getlist(f"v-{pk}-library_media"),
            "library_alt": {k[len(alt):]: v for k, v in request.POST.items() if k.startswith(alt)},
            "upload_alt": request.POST.get(f"v-{pk}-upload_alt", ""),
            "no_media": bool(request.POST.get(f"v-{pk}-no_media"))}


def _store_uploads(request, tenant, names, field, library=None, alt="", club=None):
    """Store this submission's files of one file field and list them on the form (``names``), so a refusal
    of any field loses none of them. Images go into the media library (``library``: the form's chosen
    library ids, to which they are added, described with ``alt`` and kept in ``club``'s library). Files
    attached on an earlier, refused submission come back as storage names, re-checked as this tenant's own
    uploads. Returns their URLs."""
    urls = services.media_stored_urls(tenant=tenant, names=names)
    refused = []
    for upload in request.FILES.getlist(field):
        if library is not None:
            head = upload.read(16)
            upload.seek(0)
            if (services.media_type_of(head) or "").startswith("image/"):  # images go into the media library
                assets, problems = upload_into_library(request, files=[upload], club=club, alt_text=alt)
                library.extend(str(a.pk) for a in assets if str(a.pk) not in library)
                refused.extend(problems)
                continue
        try:
            url = services.media_store(upload=upload, tenant=tenant)
        except ValidationError as exc:
            refused.extend(exc.messages)
            continue
        urls.append(url)
        names.append(stored_media_name(url))
    if refused:
        raise ValidationError(refused)
    return urls


def _each_field(refused, work, *args, **kwargs):
    """Run one field's part of a submission; its refusals are collected, so every field keeps its files."""
    try:
        return work(*args, **kwargs)
    except ValidationError as exc:
        refused.extend(exc.messages)
        return []


def _compose_posts(request, tenant, form, intent):
    scoped = scope_queryset(SocialConnection.objects.select_related("club"), request.user)
    try:
        connections = list(scoped.filter(pk__in=form["connections"]))
    except ValidationError:
        connections = []
    by_pk = {str(c.pk): c for c in connections}
    refused = []
    stored = _each_field(refused, _store_uploads, request, tenant, form["stored_media"], "media",
                         library=form["library_media"], alt=form.get("upload_alt", ""), club=upload_club(request))
    # Images from the library (new image uploads went into it) come first, with their descriptions.
    chosen = _each_field(refused, library_chosen, request, form)
    own_media = {}
    for pk, own in form["versions"].items():
        uploaded = _each_field(refused, _store_uploads, request, tenant, own["stored_media"], f"v-{pk}-media",
                               library=own["library_media"], alt=own["upload_alt"],
                               club=upload_club(request, connection=by_pk.get(pk)))
        own_media[pk] = _each_field(refused, library_chosen, request, own) + uploaded
    if refused:
        raise ValidationError(list(dict.fromkeys(refused)))
    if not connections:
        raise ValidationError("Choose at least one account to post to.")
    campaign = None
    if form["campaign"]:
        campaign = visible_row(Campaign.objects.all(), request.user, form["campaign"])
        if campaign is None:
            raise ValidationError("Campaign not found.")
    local = None
    if intent == "schedule":
        local = dates.parse_picker(form["scheduled_local"])
        if local is None:
            raise ValidationError("Choose the date and time to publish.")
    base = {"content": form["content"], "hashtags": _split_tags(form["hashtags"]),
            "link_url": form["link_url"] or None, "media_urls": chosen + list(form["media_urls"]) + stored}
    overrides = {pk: _version_overrides(own, own_media.get(pk, [])) for pk, own in form["versions"].items()}
    when = (lambda c: club_local_to_utc(c.club or request.club, local)) if local else None
    # Refused here, the uploads stay stored and listed on the re-rendered form (see _store_uploads).
    if len(connections) == 1:  # one account: a post on its own, its section's fields taking the base's place
        return services.posts_compose(
            tenant=tenant, connections=connections, campaign=campaign, scheduled_at=when,
            publish_now=intent == "publish", add_to_queue=intent == "queue", club=request.club,
            by=request.user, **{**base, **overrides.get(str(connections[0].pk), {})})
    return compositions.composition_create(
        tenant=tenant, connections=connections, campaign=campaign, overrides=overrides, scheduled_at=when,
        publish_now=intent == "publish", add_to_queue=intent == "queue", club=request.club, by=request.user, **base)


def _version_overrides(own, media):
    """The fields one account's section sets apart: those filled in (and its own files, if any)."""
    found = {}
    if own["content"].strip():
        found["content"] = own["content"]
    if own["hashtags"].strip():
        found["hashtags"] = _split_tags(own["hashtags"])
    if own["link_url"]:
        found["link_url"] = own["link_url"]
    if media:
        found["media_urls"] = media
    elif own.get("no_media"):
        found["media_urls"] = []
    return found


@login_required
@require_POST
def preview(request):
    """The composer's previews while typing: an HTML fragment with each chosen account's card, counter and
    the rules its version breaks, from the publisher's own rules (posts.previews)."""
    try:
        body = _preview_body(request)
    except ValidationError as exc:
        return JsonResponse({"detail": " ".join(exc.messages), "code": "invalid"}, status=400)
    scoped = scope_queryset(SocialConnection.objects.select_related("club"), request.user)
    wanted = [str(pk) for pk in body["connections"] if uuid_or_none(str(pk))][:50]
    connections = list(scoped.filter(pk__in=wanted).order_by("platform", "account_name"))
    cards = previews.composition_previews(connections=connections, base=body["base"], overrides=body["overrides"],
                                          thumbnails=body["thumbnails"])
    return render(request, "posts/_previews.html", {"cards": cards})


def _library_images(request, ids, thumbnails):
    """The addresses of the library images the user may see among ``ids`` (others are left out), noting
    each one's thumbnail for the cards."""
    if not isinstance(ids, list):
        raise ValidationError("library_media is a list of image ids.")
    urls = []
    for pk in list(dict.fromkeys(str(i) for i in ids))[:20]:
        asset = selectors_media_get(user=request.user, asset_id=pk)
        if asset is not None:
            urls.append(asset.url)
            thumbnails[asset.url] = asset.thumbnail_path
    return urls


def _upload_stand_ins(count):
    return ["https://media.invalid/upload.jpg"] * max(0, min(count, 20))


def _count(value):
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise ValidationError("uploads is a whole number.") from None


def _preview_body(request):
    """The composer's draft as the preview reads it: base fields and each account's own; files not yet
    sent count as images by number (``uploads``)."""
    if request.content_type != "application/json":
        raise ValidationError("Send the draft as a JSON object (application/json).")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise ValidationError("Send a JSON object.") from None
    if not isinstance(body, dict) or not isinstance(body.get("connections", []), list) \
            or not isinstance(body.get("versions", {}), dict) or not isinstance(body.get("media_urls", []), list):
        raise ValidationError("Send a JSON object: connections and media_urls are lists, versions an object.")
    thumbnails = {}
    base = {"content": str(body.get("content", "")), "hashtags": _split_tags(str(body.get("hashtags", ""))),
            "link_url": str(body.get("link_url") or "").strip() or None,
            "media_urls": _library_images(request, body.get("library_media", []), thumbnails)
            + [str(u) for u in body.get("media_urls", []) if u][:20] + _upload_stand_ins(_count(body.get("uploads")))}
    overrides = {}
    for pk, own in body.get("versions", {}).items():
        if not isinstance(own, dict):
            raise ValidationError("Each version is an object.")
        own_form = {"content": str(own.get("content", "")), "hashtags": str(own.get("hashtags", "")),
                    "link_url": str(own.get("link_url") or "").strip(), "stored_media": [],
                    "no_media": own.get("no_media") is True}
        overrides[str(pk)] = _version_overrides(own_form, _library_images(
            request, own.get("library_media", []), thumbnails) + _upload_stand_ins(_count(own.get("uploads"))))
    return {"connections": body.get("connections", []), "base": base, "overrides": overrides,
            "thumbnails": thumbnails}


def _rules_body(request):
    """The composer's draft as the rules endpoint reads it; a body of another shape is a 400."""
    if request.method == "POST" and request.content_type != "application/json":
        raise ValidationError("Send the draft as a JSON object (application/json).")
    try:
        body = json.loads(request.body or b"{}") if request.method == "POST" else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        raise ValidationError("Send a JSON object.")
    media, platforms = body.get("media_urls") or [], body.get("platforms") or [p for p, _ in SocialPlatform.choices]
    if not isinstance(media, list) or not isinstance(platforms, list):
        raise ValidationError("media_urls and platforms are lists.")
    try:
        uploads = max(0, min(int(body.get("uploads") or 0), 20))
    except (TypeError, ValueError):
        raise ValidationError("uploads is a whole number.") from None
    return body, media, platforms, uploads


@login_required
def rules(request):
    """The content rules for the composer's live counter: each platform's own length and violations."""
    try:
        body, media, platforms, uploads = _rules_body(request)
    except ValidationError as exc:
        return JsonResponse({"detail": " ".join(exc.messages), "code": "invalid"}, status=400)
    content = PostContent(
        text=str(body.get("content", "")), hashtags=_split_tags(str(body.get("hashtags", ""))),
        link=(str(body.get("link_url") or "").strip() or None),
        media_urls=[str(u) for u in media if u][:20] + ["https://media.invalid/upload.jpg"] * uploads,
    )
    answer = {}
    for platform in platforms:
        if not isinstance(platform, str) or platform not in SocialPlatform.values:
            continue
        adapter = get_adapter(platform)
        answer[platform] = {
            "name": adapter.display_name, "length": adapter.text_length(content), "limit": adapter.max_length(),
            "preview": adapter.render_text(content),
            "violations": [v.message for v in adapter.validate(content)],
        }
    return JsonResponse({"platforms": answer})


# ----------------------------------------------------------------------------- calendar


def _calendar_filters(request):
    """The calendar's filters, each id resolved within the user's scope (another tenant's id matches nothing)."""
    filters = {k: request.GET.get(k, "").strip() for k in ("club", "platform", "campaign")}
    if filters["platform"] not in SocialPlatform.values:
        filters["platform"] = ""
    chosen_club = None
    if filters["club"]:
        chosen_club = visible_row(Club.objects.all(), request.user, filters["club"])
        filters["club"] = chosen_club.pk if chosen_club else "none"
    if filters["campaign"]:
        campaign = visible_row(Campaign.objects.all(), request.user, filters["campaign"])
        filters["campaign"] = campaign.pk if campaign else "none"
    return filters, chosen_club


@login_required
@club_from_query
def calendar(request):
    view = "week" if request.GET.get("view") == "week" else "month"
    filters, chosen_club = _calendar_filters(request)
    clock = chosen_club or request.club
    raw = request.GET.get("date", "")
    try:
        day = date_in_range(date.fromisoformat(raw))
    except (ValueError, ValidationError) as exc:
        if raw:
            reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else "That is not a date."
            messages.warning(request, f"{reason} Showing today.")
        day = club_utc_to_local(clock, timezone.now()).date()
    start, end = selectors.calendar_range(view=view, day=day)
    if "none" in (filters["club"], filters["campaign"]):
        by_day = {}
    else:
        by_day = planning.calendar_days(user=request.user, club=clock, start=start, end=end, filters=filters)
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    weeks = [[(d, by_day.get(d, [])) for d in days[i:i + 7]] for i in range(0, len(days), 7)]
    hours = []
    if view == "week":
        hours = [(dates.clock_value(dt_time(hour)), dates.format_clock(dt_time(hour), clock),
                  [(d, [i for i in by_day.get(d, []) if i.local.hour == hour]) for d in days]) for hour in range(24)]
        previous, following = day - timedelta(days=7), day + timedelta(days=7)
    else:
        previous = (day.replace(day=1) - timedelta(days=1)).replace(day=1)
        following = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    query = {k: v for k, v in request.GET.items() if k in ("club", "platform", "campaign") and v}
    return render(request, "posts/calendar.html", {
        "view": view, "day": day, "weeks": weeks, "hours": hours, "previous": previous, "following": following,
        "today": club_utc_to_local(clock, timezone.now()).date(), "zone": club_zone(clock),
        "clock_club": clock, "filters": query, "filter_query": urlencode(query),
        "clubs": visible_clubs(request.user), "platforms": SocialPlatform.choices,
        "campaigns": selectors.composer_campaigns(user=request.user), "legend": planning.calendar_legend(),
        "move_url": reverse("posts:calendar_move"), "compose_url": reverse("posts:compose"),
        "agenda": [(d, items) for d in days for items in [by_day.get(d, [])] if items],
        "send_time": getattr(clock, "default_send_time", None) or dt_time(9, 0),
    })


def _wants_json(request):
    return "application/json" in request.headers.get("Accept", "")


def _move_refused(request, message, status):
    if _wants_json(request):
        return JsonResponse({"ok": False, "message": message}, status=status)
    messages.error(request, message)
    return redirect(_calendar_return(request))


def _calendar_return(request):
    target = request.POST.get("next", "")
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) and \
        target.startswith(reverse("posts:calendar")) else reverse("posts:calendar")


@login_required
@require_POST
def calendar_move(request):
    """Move a scheduled post to another day (keeping its time) or another day and time, on the club's clock.

    Goes through the schedule service, like the API's schedule action: the same rules refuse the same moves.
    """
    try:
        post = selectors.post_get(user=request.user, post_id=request.POST.get("post", ""))
    except (SocialPost.DoesNotExist, ValidationError):
        return _move_refused(request, "That post was not found.", 404)
    clock = post.connection.club or visible_row(Club.objects.all(), request.user, request.POST.get("club", "")) \
        or request.club
    before = club_utc_to_local(clock, post.scheduled_at) if post.scheduled_at else None
    try:
        day = date.fromisoformat(request.POST.get("date", ""))
    except ValueError:
        return _move_refused(request, "Choose the day to move the post to.", 400)
    raw_time = request.POST.get("time", "").strip()
    if raw_time:
        at_time = dates.parse_clock_value(raw_time)
        if at_time is None:
            return _move_refused(request, "Choose the time as hours and minutes (HH:MM).", 400)
    elif before is not None:
        at_time = before.time().replace(tzinfo=None)
    else:
        return _move_refused(request, "Choose the time to move the post to.", 400)
    try:
        at = club_local_to_utc(clock, datetime.combine(day, at_time))
        post = services.post_schedule(post=post, at=at, by=request.user)
    except IllegalTransition as exc:
        return _move_refused(request, exc.message, 409)
    except ValidationError as exc:
        return _move_refused(request, " ".join(exc.messages), 400)
    label = f"Moved to {dates.format_moment(post.scheduled_at, clock)} ({dates.zone_name(clock)})."
    if not _wants_json(request):
        messages.success(request, label)
        return redirect(_calendar_return(request))
    return JsonResponse({
        "ok": True, "message": label, "post": str(post.pk), "scheduled_at": post.scheduled_at.isoformat(),
        "date": dates.iso_day(post.scheduled_at, clock), "time": dates.clock_value(post.scheduled_at, clock),
        "clock": dates.format_clock(post.scheduled_at, clock),
        "previous": {"date": dates.iso_day(before, clock), "time": dates.clock_value(before, clock)} if before else None,
    })


@login_required
def calendar_feed(request):
    """The "Calendar feed" page: make, replace or stop the secret address of the user's ICS feed."""
    require_membership(request.user)
    new_address = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "issue":
            token = services.calendar_feed_issue(user=request.user)
            new_address = request.build_absolute_uri(reverse("posts:calendar_ics", args=[token]))
            messages.success(request, "A new feed address was made; any earlier address no longer works.")
        elif action == "revoke":
            if services.calendar_feed_revoke(user=request.user):
                messages.success(request, "The feed address was stopped; calendars using it get nothing more.")
            return redirect("posts:calendar_feed")
        else:
            messages.warning(request, "Choose whether to make a new address or stop the current one.")
            return redirect("posts:calendar_feed")
    feed = selectors.calendar_feed_of(user=request.user)
    return render(request, "posts/calendar_feed.html", {"feed": feed, "new_address": new_address})


def calendar_ics(request, token):
    """The ICS feed behind a secret address: read-only, no login; an unknown or stopped address is a 404."""
    from posts.ics import calendar_feed_document

    if request.method not in ("GET", "HEAD"):
        raise Http404("No such feed.")
    user = services.calendar_feed_owner(token=token)
    if user is None:
        raise Http404("No such feed.")
    response = HttpResponse(calendar_feed_document(user=user), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = 'inline; filename="social-schedule.ics"'
    return response


# ----------------------------------------------------------------------------- detail and actions


def _post_or_404(request, post_id):
    try:
        return selectors.post_get(user=request.user, post_id=post_id)
    except (SocialPost.DoesNotExist, ValidationError):
        raise Http404("No such post.") from None


@login_required
def detail(request, post_id):
    post = _post_or_404(request, post_id)
    history = selectors.post_metric_history(post=post)
    club = post.connection.club or request.club
    zone = _zone(club)
    chart = [{"t": h["taken_at"].isoformat(), "label": dates.format_moment(h["taken_at"], club),
              **{k: h[k] for k in ("likes", "comments", "shares", "reach", "impressions")}} for h in history]
    unknown = set(post.metrics_unknown or [])
    metrics = [{"name": name, "label": label, "value": None if name in unknown else getattr(post, name)}
               for name, label in (("likes", "Likes"), ("comments", "Comments"), ("shares", "Shares"),
                                   ("reach", "Reach"), ("impressions", "Impressions"))]
    actions = allowed_actions(post.status, post.error_kind)
    try:
        check_may_go_out(post=post, by=request.user, action="schedule")
        held_back = None
    except IllegalTransition as exc:  # schedule, publish and retry wait for approval
        held_back = exc.message.split(": ", 1)[-1]
        actions = [a for a in actions if a not in ("schedule", "publish", "retry")]
    return render(request, "posts/detail.html", {
        "post": post, "actions": actions, "held_back": held_back,
        "approval_people": {"requested_by": post.approval_requested_by and actor_label(post.approval_requested_by),
                            "decided_by": post.approval_decided_by and actor_label(post.approval_decided_by)},
        "approval_actions": approval_actions(post=post, user=request.user),
        "who_did_what": history_entries(instance=post) if request.membership and request.membership.is_admin else None,
        "retry_block": retry_block(post.status, post.error_kind), "rules_url": reverse("posts:rules"), "history": history, "chart": chart, "metrics": metrics,
        "club": club, "club_zone": zone, "preview": get_adapter(post.connection.platform).render_text(post_content(post)),
        "scheduled_local": dates.picker_value(post.scheduled_at, club),
        "card": previews.post_preview(post=post),
    })


@login_required
def composition_detail(request, composition_id):
    """One post for several networks: the base, and each network's version with its preview, status and link.
    Staff edit the shared text here (versions follow where they do not override it), let a version follow
    it again, or schedule every draft version at once."""
    try:
        composition = selectors.composition_get(user=request.user, composition_id=composition_id)
    except (Composition.DoesNotExist, ValidationError):
        raise Http404("No such post.") from None
    if request.method == "POST":
        _composition_action(request, composition)
        return redirect("posts:composition", composition_id=composition.pk)
    versions = [{"post": post, "card": previews.post_preview(post=post), "overridden": post.overridden_fields or [],
                 "zone": _zone(post.connection.club or request.club)} for post in composition.visible_versions]
    return render(request, "posts/composition.html", {
        "composition": composition, "versions": versions, "zone": _zone(composition.club or request.club),
        "editable": any(v["post"].status in EDITABLE for v in versions),
        "schedulable": any(v["post"].status in (SocialPostStatus.DRAFT, SocialPostStatus.SCHEDULED) for v in versions),
    })


FIELD_WORDS = {"content": "text", "hashtags": "hashtags", "link_url": "link", "media_urls": "media"}


def _composition_action(request, composition):
    action = request.POST.get("action")
    try:
        if action == "edit":
            compositions.composition_update(
                composition=composition, by=request.user, content=request.POST.get("content", ""),
                hashtags=_split_tags(request.POST.get("hashtags", "")),
                link_url=request.POST.get("link_url", "").strip() or None)
            messages.success(request, "Shared text saved; every version that does not have its own follows it.")
        elif action == "reset":
            field = request.POST.get("field", "")
            post = next((v for v in composition.visible_versions if str(v.pk) == request.POST.get("post")), None)
            if post is None or field not in FIELD_WORDS:
                raise ValidationError("Choose a version and what it should take from the shared post.")
            compositions.version_update(post=post, by=request.user, reset=[field])
            messages.success(request, f"{post.connection.get_platform_display()} uses the shared {FIELD_WORDS[field]} again.")
        elif action == "schedule":
            local = dates.parse_picker(request.POST.get("scheduled_local"))
            if local is None:
                raise ValidationError("Choose the date and time to publish.")
            compositions.composition_schedule(composition=composition, by=request.user,
                                              at=club_local_to_utc(composition.club or request.club, local))
            messages.success(request, "Every draft version is scheduled.")
        else:
            raise ValidationError("Unknown action.")
    except IllegalTransition as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)


def _edit_post(request, post):
    """Text, hashtags, link and media of a draft or failed post; new uploads are removed if refused."""
    media_urls = None
    stored = []
    if request.POST.get("media_form"):
        keep = set(request.POST.getlist("keep_media"))
        media_urls = [url for url in post.media_urls if url in keep]
    try:
        for upload in request.FILES.getlist("media"):
            stored.append(services.media_store(upload=upload, tenant=post.tenant))
        if stored:
            media_urls = (media_urls if media_urls is not None else list(post.media_urls)) + stored
        services.post_update(post=post, by=request.user, content=request.POST.get("content", ""),
                             hashtags=_split_tags(request.POST.get("hashtags", "")),
                             link_url=request.POST.get("link_url", "").strip() or None, media_urls=media_urls)
    except ValidationError:
        services.media_discard(urls=stored)
        raise


@login_required
@require_POST
def post_action(request, post_id):
    post = _post_or_404(request, post_id)
    action = request.POST.get("action")
    try:
        if action == "schedule":
            local = dates.parse_picker(request.POST.get("scheduled_local"))
            if local is None:
                raise ValidationError("Choose the date and time to publish.")
            at = club_local_to_utc(post.connection.club or request.club, local)
            services.post_schedule(post=post, at=at, by=request.user)
        elif action == "cancel":
            services.post_cancel(post=post, by=request.user)
        elif action == "publish":
            services.post_publish_now(post=post, by=request.user)
        elif action == "retry":
            services.post_retry(post=post, by=request.user)
        elif action == "delete":
            if request.POST.get("confirm") != "yes":  # deleting cannot be undone: only from the confirm page
                return redirect("posts:delete", post_id=post.pk)
            services.post_delete(post=post, by=request.user)
            messages.success(request, "Post deleted.")
            return redirect("posts:list")
        elif action == "edit":
            _edit_post(request, post)
        elif action == "submit":
            services.post_submit(post=post, by=request.user)
        elif action == "approve":
            services.post_approve(post=post, by=request.user, comment=request.POST.get("comment", ""))
        elif action == "send_back":
            services.post_send_back(post=post, by=request.user, comment=request.POST.get("comment", ""))
        else:
            raise ValidationError("Unknown action.")
    except (IllegalTransition, NotAnApprover) as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, {"schedule": "Post scheduled.", "cancel": "Post cancelled; it is a draft again.",
                                   "publish": "Post sent for publishing.", "retry": "Post will be tried again.",
                                   "edit": "Post saved.", "submit": "Post sent for approval.",
                                   "approve": "Post approved.", "send_back": "Post sent back to its author."}[action])
    return redirect("posts:detail", post_id=post.pk)


@login_required
def delete_confirm(request, post_id):
    """Ask before deleting: the post and its history go for good."""
    post = _post_or_404(request, post_id)
    try:
        check_action(post.status, "delete")
    except IllegalTransition as exc:
        messages.error(request, exc.message)
        return redirect("posts:detail", post_id=post.pk)
    return render(request, "posts/delete.html", {"post": post})
