"""The media library page: every image with its facts and use, uploads, descriptions, removal when unused."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from crm.tenancy import allowed_club_ids, require_membership, visible_clubs, visible_row
from library import selectors, services
from library.models import ALT_TEXT_MAX_LENGTH

PAGE_SIZE = 48


def _club_choice(request, raw):
    """The club an upload goes to: one the user may see, or None for the whole organisation."""
    if not raw:
        return None
    club = visible_row(visible_clubs(request.user), request.user, raw)
    if club is None:
        raise ValidationError("Club not found.")
    return club


def upload_into_library(request, *, files, club, alt_text=""):
    """Store each uploaded file in the library; returns (assets, refusals in plain words)."""
    tenant = require_membership(request.user).tenant
    assets, refused = [], []
    for upload in files:
        try:
            asset, _ = services.media_upload(tenant=tenant, club=club, upload=upload, by=request.user,
                                             alt_text=alt_text)
        except ValidationError as exc:
            refused.extend(exc.messages)
            continue
        assets.append(asset)
    return assets, refused


@login_required
def library_index(request):
    require_membership(request.user)
    limited = allowed_club_ids(request.user) is not None
    if request.method == "POST":
        try:
            club = _club_choice(request, request.POST.get("club", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("library:list")
        files = request.FILES.getlist("file")
        if not files:
            messages.error(request, "Choose one or more images to upload.")
            return redirect("library:list")
        assets, refused = upload_into_library(request, files=files, club=club,
                                              alt_text=request.POST.get("alt_text", ""))
        for message in refused:
            messages.error(request, message)
        if assets:
            messages.success(request, f"{len(assets)} image{'s' if len(assets) != 1 else ''} in the library.")
        return redirect("library:list")
    assets = selectors.media_list(user=request.user)
    page = Paginator(assets, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "library/list.html", {
        "page": page, "assets": list(page.object_list), "clubs": visible_clubs(request.user),
        "limited": limited, "current_club": request.club, "alt_max": ALT_TEXT_MAX_LENGTH,
    })


def _asset_or_404(request, asset_id):
    asset = selectors.media_get(user=request.user, asset_id=asset_id)
    if asset is None:
        raise Http404("No such image.")
    return asset


@login_required
@require_POST
def describe(request, asset_id):
    asset = _asset_or_404(request, asset_id)
    try:
        services.media_describe(asset=asset, alt_text=request.POST.get("alt_text", ""), by=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"Description of “{asset}” saved.")
    return redirect(reverse("library:list") + f"#asset-{asset.pk}")


@login_required
def delete(request, asset_id):
    """Ask before removing; an image that posts use is never removed."""
    asset = _asset_or_404(request, asset_id)
    usage = selectors.media_usage(asset=asset)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            services.media_delete(asset=asset, by=request.user)
        except services.MediaInUse as exc:
            messages.error(request, exc.message)
            return redirect("library:delete", asset_id=asset.pk)
        messages.success(request, f"“{asset}” removed from the library.")
        return redirect("library:list")
    return render(request, "library/delete.html", {"asset": asset, "usage": usage})


# ----------------------------------------------------------------------------- the composer's picker

COMPOSER_CHOICES = 60


def upload_club(request, connection=None):
    """Where an image uploaded while composing is kept: the whole organisation's library, or for staff
    limited to some clubs, the club of the account it is for (else the club they are working in)."""
    if allowed_club_ids(request.user) is None:
        return None
    if connection is not None and connection.club_id is not None:
        return connection.club
    return request.club


def library_choices(request, *, chosen, alts, club=...):
    """The library images a form offers (the chosen ones first, then the newest of ``club``'s library and the
    organisation's; by default the club the user works in), each with its description as typed on the form,
    or as the library holds it."""
    chosen = [str(pk) for pk in dict.fromkeys(chosen)]
    club = request.club if club is ... else club
    newest = list(selectors.media_list(user=request.user, club=club)[:COMPOSER_CHOICES])
    offered = {str(a.pk) for a in newest}
    picked = [a for a in (selectors.media_get(user=request.user, asset_id=pk) for pk in chosen if pk not in offered)
              if a is not None]
    rows = [{"asset": a, "chosen": str(a.pk) in chosen, "alt": alts.get(str(a.pk), a.alt_text)}
            for a in picked + newest]
    return sorted(rows, key=lambda row: (not row["chosen"], chosen.index(str(row["asset"].pk))
                                         if row["chosen"] else 0))


def library_chosen(request, form):
    """The addresses of the library images chosen on a form, in order; a description typed beside one is
    saved to the library (it is the image's, sent with it wherever it is published)."""
    urls = []
    for pk in dict.fromkeys(form["library_media"]):
        asset = selectors.media_get(user=request.user, asset_id=pk)
        if asset is None:
            raise ValidationError("An image chosen from the media library is no longer there; choose another.")
        typed = form["library_alt"].get(str(asset.pk))
        if typed is not None and " ".join(typed.split()) != asset.alt_text:
            services.media_describe(asset=asset, alt_text=typed, by=request.user)
        urls.append(asset.url)
    return urls
