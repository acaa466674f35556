import hmac
import json

from csp.decorators import csp
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crm.history import history_entries
from crm.middleware import club_from_query
from crm.models import Member
from crm.services import tenant_rotate_event_secret
from crm.tenancy import require_membership, scope_queryset
from library.views import upload_into_library
from promotions import services
from promotions.forms import PromotionForm, TenantDefaultsForm, TenantDeliveryForm
from promotions.intake import SignatureError
from promotions.models import Channel, EventPromotion
from promotions.reports import promotion_report
from promotions.selectors import promotion_list, promotion_message_preview, promotion_timeline
from promotions.sms import is_stop_reply
from promotions.sms_estimate import sms_estimate, sms_template_size
from promotions.sms_receipts import ReceiptRefused, receipt_apply, receipt_parse, receipt_verify
from promotions.sms_segments import sms_size
from promotions.unsubscribe import member_id_from_token


def _promotion(request, pk):
    return get_object_or_404(scope_queryset(EventPromotion.objects.select_related("club__tenant"), request.user), pk=pk)


@login_required
@club_from_query
def promotion_index(request):
    membership = require_membership(request.user)
    return render(request, "promotions/list.html", {
        "promotions": promotion_list(user=request.user, club=request.club), "is_admin": membership.is_admin,
    })


@login_required
def promotion_detail(request, pk):
    promotion = _promotion(request, pk)
    membership = require_membership(request.user)
    return render(request, "promotions/detail.html", {
        "promotion": promotion, "timeline": promotion_timeline(promotion=promotion),
        "who_did_what": history_entries(instance=promotion) if membership.is_admin else None,
        "sms_estimate": sms_estimate(promotion=promotion) if Channel.SMS in promotion.channels else None,
        "report": promotion_report(promotion=promotion),
    })


def _image_into_library(request, form, promotion):
    """An image uploaded on the form goes into the club's media library and becomes the event's image."""
    upload = form.cleaned_data.get("image_upload")
    if not upload:
        return True
    club = promotion.club if promotion else form.cleaned_data["club"]
    assets, refused = upload_into_library(request, files=[upload], club=club)
    for message in refused:
        form.add_error("image_upload", message)
    if assets:
        form.cleaned_data["event_image_url"] = assets[0].url
    return not refused


def report_csv_response(report, filename):
    response = HttpResponse(report.as_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


@login_required
def promotion_report_csv(request, pk):
    promotion = _promotion(request, pk)
    return report_csv_response(promotion_report(promotion=promotion), f"promotion-{slugify(promotion.event_name) or promotion.pk}")


def _save_form(request, *, promotion=None):
    form = PromotionForm(request.POST or None, request.FILES or None, user=request.user, promotion=promotion,
                         initial=PromotionForm.initial_for(promotion) if promotion else
                         {"club": request.club, "channels": list(require_membership(request.user).tenant.default_channels),
                          "reminder_days": ", ".join(map(str, require_membership(request.user).tenant.default_reminder_days))})
    if request.method == "POST" and form.is_valid() and _image_into_library(request, form, promotion):
        try:
            if promotion is None:
                club = form.cleaned_data["club"]
                promotion = services.promotion_create_special(tenant=club.tenant, club=club, by=request.user,
                                                              **form.service_fields())
                flash.success(request, f"Promotion “{promotion.event_name}” created and planned.")
            else:
                promotion = services.promotion_update(promotion=promotion, by=request.user, **form.service_fields())
                flash.success(request, "Promotion saved; what was still pending is re-planned.")
            return redirect("promotions:detail", pk=promotion.pk)
        except ValidationError as exc:
            for field, errors in getattr(exc, "message_dict", {None: exc.messages}).items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
    return render(request, "promotions/form.html", {"form": form, "promotion": promotion,
                                                    "sms_estimate": _form_estimate(form, promotion)})


def _form_estimate(form, promotion):
    """The SMS estimate for what the form holds now (saved or not); None when it cannot be worked out yet."""
    data = form.cleaned_data if form.is_bound else {}
    if not form.is_bound:
        if promotion is None:
            return None
        return sms_estimate(promotion=promotion) if Channel.SMS in promotion.channels else None
    club = data.get("club") or (promotion.club if promotion is not None else None)
    if club is None or Channel.SMS not in (data.get("channels") or []):
        return None
    draft = EventPromotion(
        tenant_id=club.tenant_id, club=club, channels=data.get("channels") or [], segment=data.get("segment"),
        target_radius=data.get("target_radius"), sms_template=data.get("sms_template"),
        reminder_days=data.get("reminder_days") or [],
        event_name=data.get("event_name") or (promotion.event_name if promotion else ""),
        event_starts_at=data.get("event_starts_at") or (promotion.event_starts_at if promotion else timezone.now()),
        event_location=data.get("event_location") or "", event_url=data.get("event_url") or "",
    )
    return sms_estimate(promotion=draft, tenant=club.tenant)


@login_required
@require_POST
def promotion_sms_estimate(request):
    """The live SMS estimate of the promotion form (static/js/promotions-form.js posts the form here)."""
    require_membership(request.user)
    promotion = None
    if request.POST.get("promotion"):
        try:
            promotion = scope_queryset(EventPromotion.objects.select_related("club__tenant"), request.user).filter(
                pk=request.POST["promotion"]).first()
        except ValidationError:
            promotion = None
        if promotion is None:
            raise Http404("No such promotion.")
    form = PromotionForm(request.POST, user=request.user, promotion=promotion)
    form.is_valid()
    estimate = _form_estimate(form, promotion)
    if estimate is None:
        return JsonResponse({"estimate": None})
    return JsonResponse({"estimate": estimate.as_dict()})


@login_required
def promotion_create(request):
    require_membership(request.user)
    return _save_form(request)


@login_required
def promotion_edit(request, pk):
    return _save_form(request, promotion=_promotion(request, pk))


@login_required
@require_POST
def promotion_toggle(request, pk):
    promotion = _promotion(request, pk)
    services.promotion_set_active(promotion=promotion, active=not promotion.is_active, by=request.user)
    flash.success(request, "Promotion activated and planned." if not promotion.is_active else
                  "Promotion deactivated; pending sends cancelled.")
    return redirect("promotions:detail", pk=promotion.pk)


@login_required
def promotion_preview(request, pk):
    promotion = _promotion(request, pk)
    preview = promotion_message_preview(promotion=promotion, **_preview_step(request))
    sms_size_shown = sms_size(preview["sms"]) if preview.get("sms") is not None else None
    return render(request, "promotions/preview.html", {"promotion": promotion, **preview, "sms_size": sms_size_shown})


def _preview_step(request):
    """Which member and step a preview shows: the step picker's own value ("KIND:DAYS") wins."""
    kind, days = request.GET.get("kind", "ANNOUNCEMENT"), request.GET.get("days", "0")
    if ":" in request.GET.get("step", ""):
        kind, days = request.GET["step"].split(":", 1)
    return {"member_id": request.GET.get("member"), "kind": kind, "days_before": days}


# The HTML email is its own document, framed by the preview page in a sandbox (no scripts, a unique
# origin): it may carry the inline styles mail programs need, and nothing else — no script, no
# request to another origin, framed only by our own pages.
EMAIL_PREVIEW_POLICY = {
    "default-src": ["'none'"],
    "style-src": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "frame-ancestors": ["'self'"],
    "base-uri": ["'none'"],
}


@login_required
@xframe_options_sameorigin
@csp(EMAIL_PREVIEW_POLICY)
def promotion_preview_email(request, pk):
    promotion = _promotion(request, pk)
    preview = promotion_message_preview(promotion=promotion, **_preview_step(request))
    email = preview.get("email")
    if email is None:
        return HttpResponse(preview["refused"]["email"], content_type="text/plain; charset=utf-8", status=422)
    return HttpResponse(email.html, content_type="text/html; charset=utf-8")


@login_required
def promotion_settings(request):
    membership = require_membership(request.user)
    if not membership.is_admin:
        raise PermissionDenied("Only tenant admins may change the promotion defaults.")
    tenant = membership.tenant
    form = TenantDefaultsForm(request.POST or None, initial={
        "auto_promote": tenant.auto_promote, "default_channels": tenant.default_channels,
        "default_reminder_days": ", ".join(map(str, tenant.default_reminder_days)),
        "default_send_time": tenant.default_send_time,
    })
    delivery_form = TenantDeliveryForm(request.POST if request.POST.get("form") == "delivery" else None,
                                       initial=TenantDeliveryForm.initial_for(tenant), prefix="delivery")
    if request.POST.get("form") == "delivery":
        form = TenantDefaultsForm(initial=form.initial)
        if delivery_form.is_valid():
            services.tenant_delivery_settings_update(tenant=tenant, **delivery_form.cleaned_data)
            flash.success(request, "SMS price and link tracking saved.")
            return redirect("promotions:settings")
    elif request.method == "POST" and form.is_valid():
        services.tenant_promotion_defaults_update(
            tenant=tenant, channels=form.cleaned_data["default_channels"],
            reminder_days=form.cleaned_data["default_reminder_days"],
            send_time=form.cleaned_data["default_send_time"], auto_promote=form.cleaned_data["auto_promote"],
        )
        flash.success(request, "Promotion defaults saved.")
        return redirect("promotions:settings")
    return render(request, "promotions/settings.html", {"form": form, "delivery_form": delivery_form, "tenant": tenant,
                                                        "channels": Channel})


@login_required
@require_POST
def rotate_event_secret(request):
    membership = require_membership(request.user)
    if not membership.is_admin:
        raise PermissionDenied("Only tenant admins may change the event signing secret.")
    tenant_rotate_event_secret(tenant=membership.tenant)
    flash.success(request, "A new signing secret was generated. Give it to the tee-time system: events signed with the old one are now refused.")
    return redirect("promotions:settings")


@csrf_exempt  # mail clients POST "List-Unsubscribe=One-Click" without a form token (RFC 8058); the signed token is the proof
def unsubscribe(request, token):
    member_id = member_id_from_token(token)
    member = Member.objects.select_related("club").filter(pk=member_id).first() if member_id else None
    if member is None:
        raise Http404("This unsubscribe link is not valid.")
    if request.method == "POST":
        services.member_email_unsubscribe(member_id=member.pk)
        return render(request, "promotions/unsubscribed.html", {"member": member})
    if request.method != "GET":
        return HttpResponse(status=405)
    return render(request, "promotions/unsubscribe.html", {"member": member, "token": token})


@csrf_exempt  # called by the SMS gateway, authenticated by its bearer token
@require_POST
def sms_inbound(request):
    """The SMS gateway forwards replies here; a STOP-style reply opts the number out of texts."""
    expected = settings.SMS_GATEWAY_TOKEN
    provided = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not expected or not hmac.compare_digest(expected.encode(), provided.encode()):
        return JsonResponse({"detail": "Not authorised."}, status=401)
    try:
        payload = json.loads(request.body) if request.content_type == "application/json" else request.POST
    except (ValueError, RecursionError):
        return JsonResponse({"detail": "The body is not valid JSON."}, status=400)
    if not hasattr(payload, "get"):
        return JsonResponse({"detail": "The body must be a JSON object with \"from\" and \"text\"."}, status=400)
    phone, text = payload.get("from", ""), payload.get("text", "")
    errors = {name: ["Must be text."] for name, value in (("from", phone), ("text", text)) if not isinstance(value, str)}
    if not errors and not phone.strip():
        errors["from"] = ["This field is required."]
    if errors:
        return JsonResponse(errors, status=400)
    if is_stop_reply(text):
        try:
            opt_out = services.sms_opt_out(phone=phone, text=text.strip())
        except ValidationError as exc:
            return JsonResponse(exc.message_dict, status=400)
        return JsonResponse({"status": "opted out", "members": opt_out.members_opted_out})
    return JsonResponse({"status": "ignored"})


@csrf_exempt  # called by the SMS gateway, authenticated by its HMAC signature
@require_POST
def sms_receipt(request):
    """The SMS gateway's signed delivery receipt for one text (promotions/sms_receipts.py)."""
    if request.content_type != "application/json":
        message = "Send the receipt as application/json."
        return JsonResponse({"detail": message, "code": "invalid", "fields": {"non_field_errors": [message]}}, status=400)
    raw = request.body
    try:
        receipt_verify(raw=raw, timestamp_header=request.headers.get("X-Signature-Timestamp"),
                       signature_header=request.headers.get("X-Signature"))
    except SignatureError as exc:
        return JsonResponse({"detail": str(exc), "code": "bad_signature"}, status=401)
    try:
        outcome = receipt_apply(body=receipt_parse(raw))
    except ReceiptRefused as exc:
        return JsonResponse({"detail": exc.message, "code": "invalid", "fields": {exc.field: [exc.message]}}, status=400)
    return JsonResponse({"status": outcome})


@login_required
@require_POST
def sms_count(request):
    """A text's encoding and segments as staff write an SMS template (static/js/sms-count.js posts the body here)."""
    require_membership(request.user)
    text = request.POST.get("text", "")
    if len(text) > 5000:
        return JsonResponse({"detail": "The text is too long to count.", "code": "invalid",
                             "fields": {"text": ["At most 5000 characters."]}}, status=400)
    size, problem = sms_template_size(text)
    return JsonResponse({"problem": problem, **(size.as_dict() if size else {})})
