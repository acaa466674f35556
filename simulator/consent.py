"""Consent pages a browser can click through: Allow or Deny, then a 302 back to the app."""

import html
import secrets

from .protocol import error_page, html_page


def consent_page(state, req, *, platform, user_name, app_name, scopes, callback, checkboxes):
    """Remember the authorization request and show the consent form (posted back to req.path)."""
    consent_id = secrets.token_urlsafe(16)
    state.consents[consent_id] = {"platform": platform, "scopes": list(scopes), **callback}
    if checkboxes:
        items = "".join(
            f"<li><label><input type='checkbox' name='scope' value='{html.escape(s)}' checked> "
            f"{html.escape(s)}</label></li>" for s in scopes)
    else:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
    body = (
        f"<h1>{html.escape(user_name)} — {html.escape(app_name)} wants to: "
        f"{html.escape(', '.join(scopes))}</h1>"
        f"<form method='post' action='{html.escape(req.path)}'>"
        f"<input type='hidden' name='consent' value='{consent_id}'>"
        f"<ul class='scopes'>{items}</ul>"
        "<button type='submit' name='decision' value='allow'>Allow</button>"
        "<button type='submit' name='decision' value='deny'>Deny</button>"
        "</form>"
    )
    return html_page(f"{app_name} — authorize", body)


def consent_decision(state, req, platform, *, checkboxes):
    """(consent, allowed, granted scopes) for a posted consent form, or an error page response."""
    consent = state.consents.pop(req.form.get("consent", ""), None)
    if consent is None or consent["platform"] != platform:
        return None, error_page("This authorization request is no longer valid. Start again from the app.")
    allowed = req.form.get("decision") == "allow"
    if checkboxes:
        checked = set(req.form_multi.get("scope", []))
        granted = [s for s in consent["scopes"] if s in checked]
    else:
        granted = list(consent["scopes"])
    return (consent, allowed, granted), None
