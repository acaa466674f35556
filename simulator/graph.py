"""Facebook Graph API and Instagram Graph API (same host, same tokens)."""

import base64
import datetime as dt
import hashlib
import json
import re
import secrets
from urllib.parse import urlencode

from . import world
from .consent import consent_decision, consent_page
from .media import MediaFetchError, fetch_image
from .protocol import HttpError, Response, error_page, redirect

VERSION_RE = re.compile(r"^/v\d+\.\d+(?=/|$)")
DAY = 24 * 3600

FB_INSIGHT_METRICS = {
    "post_media_view", "post_total_media_view_unique", "post_reactions_by_type_total",
    "post_clicks", "post_clicks_by_type", "post_reactions_like_total",
}
IG_INSIGHT_METRICS = ["views", "reach", "likes", "comments", "shares", "saved", "total_interactions",
                      "profile_visits", "follows"]


# errors --------------------------------------------------------------------
def graph_error(code, message, *, subcode=None, status=400, type_="OAuthException", user_title=None,
                user_msg=None, headers=None, transient=None):
    error = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    if user_title:
        error["error_user_title"] = user_title
    if user_msg:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
    return HttpError(Response(status, {"error": error}, headers))


def missing_param(name):
    return graph_error(100, f"(#100) The parameter {name} is required")


def unsupported(node_id, method="get"):
    return graph_error(100, f"Unsupported {method} request. Object with ID '{node_id}' does not exist, cannot be "
                            "loaded due to missing permissions, or does not support this operation. Please read "
                            "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                       subcode=33, type_="GraphMethodException")


def permission_error(message):
    return graph_error(200, f"(#200) {message}", status=403)


# helpers -------------------------------------------------------------------
def strip_version(path):
    return VERSION_RE.sub("", path) or "/"


def graph_time(t):
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_time(value):
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        pass
    text = value.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise graph_error(100, f"(#100) Invalid time value: {value}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def split_fields(value):
    """Top-level items of a Graph `fields` expression, each with its modifiers and nesting."""
    items, depth, current = [], 0, ""
    for char in value or "":
        if char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return [item.strip() for item in items if item.strip()]


def parse_fields(value):
    """Top-level field names of a Graph `fields` expression (modifiers and nesting dropped)."""
    return [re.split(r"[.{(]", item, maxsplit=1)[0] for item in split_fields(value)]


def field_modifiers(value):
    """Modifiers of each top-level field: `insights.metric(a,b).period(lifetime)` gives
    {"insights": {"metric": "a,b", "period": "lifetime"}} (nesting in braces is ignored)."""
    found = {}
    for item in split_fields(value):
        name = re.split(r"[.{(]", item, maxsplit=1)[0]
        found[name] = dict(re.findall(r"\.(\w+)\(([^()]*)\)", item))
    return found


def truthy(value):
    return str(value).lower() in ("true", "1", "yes")


def list_param(value):
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [json.dumps(v) if isinstance(v, dict) else str(v) for v in value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            return [json.dumps(v) if isinstance(v, dict) else str(v) for v in json.loads(text)]
        except ValueError:
            pass
    return [v.strip() for v in text.split(",") if v.strip()]


def business_of(state, node_id):
    """Page or Instagram account a node belongs to (for the Business Use Case usage header)."""
    if node_id in world.FACEBOOK_PAGES or node_id in world.INSTAGRAM_ACCOUNTS:
        return node_id
    if "_" in node_id and node_id.split("_")[0] in world.FACEBOOK_PAGES:
        return node_id.split("_")[0]
    if node_id in state.fb_photos:
        return state.fb_photos[node_id]["page_id"]
    if node_id in state.fb_videos:
        return state.fb_videos[node_id]["page_id"]
    if node_id in state.ig_containers:
        return state.ig_containers[node_id]["ig_user"]
    if node_id in state.ig_media:
        return state.ig_media[node_id]["ig_user"]
    return None


def first_segment(path):
    parts = [p for p in strip_version(path).split("/") if p]
    return parts[0] if parts else ""


def platform_for(state, path):
    node = first_segment(path)
    if node in world.INSTAGRAM_ACCOUNTS or node in state.ig_containers or node in state.ig_media:
        return "instagram"
    return "facebook"


# usage headers -------------------------------------------------------------
def _usage_numbers(state, platform, business):
    override = state.usage_override.get((platform, business)) or state.usage_override.get((platform, None))
    now = state.now()
    if override:
        return override
    if business is None:
        calls = state.usage_calls.count(now, every_business=True)
        pct = min(99, calls // 10)
    else:
        calls = state.usage_calls.count(now, business)
        pct = min(99, calls // 5)
    return {"call_count": pct, "total_cputime": pct // 2, "total_time": pct // 2}


def usage_headers(state, path, platform):
    node = first_segment(path)
    business = business_of(state, node)
    state.usage_calls.add(state.now(), business)
    app = _usage_numbers(state, platform, None)
    headers = {"X-App-Usage": json.dumps({k: app.get(k, 0) for k in ("call_count", "total_cputime", "total_time")})}
    if business:
        numbers = _usage_numbers(state, platform, business)
        throttled = max(numbers.get(k, 0) for k in ("call_count", "total_cputime", "total_time")) >= 100
        headers["X-Business-Use-Case-Usage"] = json.dumps({business: [{
            "type": "instagram" if business in world.INSTAGRAM_ACCOUNTS else "pages",
            "call_count": numbers.get("call_count", 0),
            "total_cputime": numbers.get("total_cputime", 0),
            "total_time": numbers.get("total_time", 0),
            "estimated_time_to_regain_access": numbers.get("estimated_time_to_regain_access", 5 if throttled else 0),
        }]})
    return headers, business


def throttle_check(state, platform, business, headers):
    """Calls fail once the usage set through the control API reaches 100%."""
    for key in ((platform, business), (platform, None)):
        numbers = state.usage_override.get(key)
        if numbers and max(numbers.get(k, 0) for k in ("call_count", "total_cputime", "total_time")) >= 100:
            if business and key[1] is not None:
                code = 80002 if business in world.INSTAGRAM_ACCOUNTS else 80001
                raise graph_error(code, BUC_MESSAGES[code], headers=headers, transient=True)
            raise graph_error(4, "(#4) Application request limit reached", headers=headers, transient=True)


BUC_MESSAGES = {
    80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more "
           "info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
    80002: "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again. For more "
           "info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
}


def _cursor(item_id):
    return base64.b64encode(str(item_id).encode()).decode()


def cursor_page(items, params, limit, *, path):
    """Graph cursor paging over ``items`` (already newest first): ``after``/``before`` are cursors of
    an item; ``paging.next`` (with ``cursors.after``) is there only while another page follows."""
    ids = [str(item["id"]) for item in items]
    start = 0
    if params.get("after"):
        try:
            start = ids.index(base64.b64decode(params["after"]).decode()) + 1
        except (ValueError, UnicodeDecodeError):
            raise graph_error(100, "(#100) The after cursor is not valid") from None
    page = items[start:start + limit]
    paging = {}
    if page:
        paging["cursors"] = {"before": _cursor(page[0]["id"]), "after": _cursor(page[-1]["id"])}
        if start + limit < len(items):
            query = {k: v for k, v in params.items() if k not in ("access_token", "after")}
            query.update(after=paging["cursors"]["after"], limit=limit)
            paging["next"] = f"/{path}?" + urlencode(query)  # the real one is absolute; only its presence matters
    return page, paging


def rate_limit_error(platform, business, options, headers):
    """Calls with a Page token (and every Instagram call) fall under Business Use Case limits:
    80001 for a Page, 80002 for an Instagram account, with the regain time in minutes in
    X-Business-Use-Case-Usage. Calls with no business behind them get the platform codes."""
    code = options.get("code")
    if code is None:
        code = (80002 if business in world.INSTAGRAM_ACCOUNTS else 80001) if business else 17
    code = int(code)
    messages = {4: "(#4) Application request limit reached", 17: "(#17) User request limit reached",
                32: "(#32) Page request limit reached", 613: "(#613) Calls to this api have exceeded the rate limit.",
                **BUC_MESSAGES}
    minutes = max(1, int(options.get("reset_after", 60)) // 60)
    headers = dict(headers)
    headers["X-App-Usage"] = json.dumps({"call_count": 100, "total_cputime": 100, "total_time": 100})
    if business:
        headers["X-Business-Use-Case-Usage"] = json.dumps({business: [{
            "type": "instagram" if business in world.INSTAGRAM_ACCOUNTS else "pages", "call_count": 100,
            "total_cputime": 100, "total_time": 100, "estimated_time_to_regain_access": minutes}]})
    return graph_error(code, messages.get(code, f"(#{code}) Request limit reached"), headers=headers,
                       transient=True)


def fault_error(kind, platform, business, options, headers):
    if kind == "server_error":
        status = int(options.get("status", 500))
        code = int(options.get("code", 1 if status == 500 else 2))
        message = ("An unknown error has occurred." if code == 1
                   else "An unexpected error has occurred. Please retry your request later.")
        return graph_error(code, message, status=status, transient=True, headers=headers)
    if kind == "rate_limit":
        return rate_limit_error(platform, business, options, headers)
    if kind == "revoked_token":
        return graph_error(190, "Error validating access token: The session has been invalidated because the user "
                                "changed their password or Facebook has changed the session for security reasons.",
                           subcode=460, headers=headers)
    if kind == "expired_token":
        return graph_error(190, "Error validating access token: Session has expired.", subcode=463, headers=headers)
    if kind == "duplicate":
        return graph_error(506, "Duplicate status message", user_title="Duplicate Status Update",
                           user_msg="This status update is identical to the last one you posted.", headers=headers)
    if kind == "permission":
        return graph_error(200, "(#200) Requires the pages_manage_posts permission to manage the object",
                           status=403, headers=headers)
    raise ValueError(kind)


# the handler ---------------------------------------------------------------
class Graph:
    def __init__(self, state):
        self.state = state

    def handle(self, req):
        parts = [p for p in strip_version(req.path).split("/") if p]
        method = req.method
        params = req.params
        if parts == ["dialog", "oauth"]:
            return self.dialog(req) if method == "GET" else self.dialog_decision(req)
        if parts == ["oauth", "access_token"]:
            return self.access_token(params)
        if parts == ["debug_token"]:
            return self.debug_token(req, params)
        if not parts:
            if method == "GET" and params.get("ids") is not None:
                return self.batch_read(req, params)
            raise graph_error(100, "(#100) Unsupported request", type_="GraphMethodException")
        token = self.authenticate(req, params)
        node = parts[0]
        if node == "me":
            node = token.page_id if token.kind == "page" else token.subject
        edge = parts[1] if len(parts) > 1 else None
        if len(parts) > 3:
            raise unsupported(node, method.lower())
        key = (method, edge)
        if edge is None and method == "GET":
            return self.read_node(token, node, params)
        if edge == "permissions":
            if method == "GET":
                return self.permissions(token, node)
            if method == "DELETE":
                return self.revoke_permissions(token, node, parts[2] if len(parts) == 3 else None)
        if key == ("GET", "accounts"):
            return self.accounts(token, node)
        if node in world.FACEBOOK_PAGES:
            if key == ("POST", "feed"):
                return self.post_feed(token, node, params)
            if key == ("POST", "photos"):
                return self.post_photo(req, token, node, params)
            if key == ("POST", "videos"):
                return self.post_video(token, node, params)
            if method == "GET" and edge in ("feed", "posts", "published_posts"):
                return self.page_feed(token, node, params)
        if node in world.INSTAGRAM_ACCOUNTS:
            if key == ("POST", "media"):
                return self.ig_create_container(token, node, params)
            if key == ("POST", "media_publish"):
                return self.ig_publish(token, node, params)
            if key == ("GET", "media"):
                return self.ig_media_list(token, node, params)
            if key == ("GET", "content_publishing_limit"):
                return self.ig_publishing_limit(token, node, params)
        if key == ("GET", "insights"):
            if node in self.state.fb_posts:
                return self.fb_insights(token, node, params)
            if node in self.state.ig_media:
                return self.ig_insights(token, node, params)
        raise unsupported(node, method.lower())

    # OAuth ------------------------------------------------------------------
    def dialog(self, req):
        q = req.query
        if q.get("client_id") != world.FACEBOOK_APP_ID:
            return error_page("Invalid App ID: the provided app ID does not look like a valid app ID.")
        if not q.get("redirect_uri"):
            return error_page("URL blocked: redirect_uri is missing.")
        if q.get("response_type", "code") != "code":
            return error_page("This simulator only supports response_type=code.")
        scopes = [s for s in re.split(r"[,\s]+", q.get("scope", "")) if s] or ["public_profile"]
        return consent_page(self.state, req, platform="facebook", user_name=world.FACEBOOK_USER_NAME,
                            app_name=world.FACEBOOK_APP_NAME, scopes=scopes, checkboxes=True,
                            callback={"client_id": q["client_id"], "redirect_uri": q["redirect_uri"],
                                      "state": q.get("state")})

    def dialog_decision(self, req):
        result, problem = consent_decision(self.state, req, "facebook", checkboxes=True)
        if problem:
            return problem
        consent, allowed, granted = result
        extra = {"state": consent["state"]} if consent["state"] is not None else {}
        if not allowed:
            return redirect(consent["redirect_uri"], {
                "error": "access_denied", "error_code": "200", "error_description": "Permissions error",
                "error_reason": "user_denied", **extra})
        grants = self.state.fb_grants.setdefault(world.FACEBOOK_USER_ID, set())
        grants.difference_update(consent["scopes"])
        grants.update(granted)
        code = self.state.new_code("facebook", consent["client_id"], consent["redirect_uri"], granted,
                                   world.FACEBOOK_CODE_TTL)
        return redirect(consent["redirect_uri"], {"code": code.value, **extra})

    def check_client(self, params):
        if params.get("client_id") != world.FACEBOOK_APP_ID:
            raise graph_error(101, "Error validating application. Invalid application ID.")
        if params.get("client_secret") != world.FACEBOOK_APP_SECRET:
            raise graph_error(1, "Error validating client secret.")

    def access_token(self, params):
        state = self.state
        self.check_client(params)
        if params.get("grant_type") == "fb_exchange_token":
            short = state.tokens.get(params.get("fb_exchange_token", ""))
            self.raise_token_problem(short)
            if short.kind != "user":
                raise graph_error(100, "(#100) fb_exchange_token must be a user access token")
            token = state.issue("facebook", "user", short.subject, short.scopes, world.FACEBOOK_LONG_TOKEN_TTL,
                                world.FACEBOOK_APP_ID, long_lived=True)
            return Response(200, {"access_token": token.value, "token_type": "bearer",
                                  "expires_in": world.FACEBOOK_LONG_TOKEN_TTL})
        if "code" not in params:
            raise missing_param("code")
        if "redirect_uri" not in params:
            raise missing_param("redirect_uri")
        code = state.codes.get(params["code"])
        if code is None or code.platform != "facebook":
            raise graph_error(100, "Invalid verification code format.", subcode=36006)
        if code.used:
            raise graph_error(100, "This authorization code has been used.", subcode=36009)
        if state.now() >= code.expires_at:
            raise graph_error(100, "This authorization code has expired.", subcode=36007)
        if params["redirect_uri"] != code.redirect_uri:
            raise graph_error(100, "Error validating verification code. Please make sure your redirect_uri is "
                                   "identical to the one you used in the OAuth dialog request", subcode=36008)
        code.used = True
        token = state.issue("facebook", "user", world.FACEBOOK_USER_ID, code.scopes, world.FACEBOOK_SHORT_TOKEN_TTL,
                            world.FACEBOOK_APP_ID)
        return Response(200, {"access_token": token.value, "token_type": "bearer",
                              "expires_in": world.FACEBOOK_SHORT_TOKEN_TTL})

    def debug_token(self, req, params):
        self.authenticate(req, params)
        token = self.state.tokens.get(params.get("input_token", ""))
        if token is None or token.platform != "facebook":
            return Response(200, {"data": {"is_valid": False, "error": {"code": 190, "message": "Invalid token"}}})
        data = {"app_id": world.FACEBOOK_APP_ID, "type": "PAGE" if token.kind == "page" else "USER",
                "application": world.FACEBOOK_APP_NAME, "is_valid": self.state.token_problem(token) is None,
                "expires_at": int(token.expires_at) if token.expires_at else 0,
                "scopes": sorted(self.state.fb_grants.get(token.subject, set())), "user_id": token.subject}
        if token.page_id:
            data["profile_id"] = token.page_id
        return Response(200, {"data": data})

    # tokens -----------------------------------------------------------------
    def raise_token_problem(self, token):
        problem = self.state.token_problem(token)
        if problem == "invalid" or (token is not None and token.platform != "facebook"):
            raise graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        if problem == "expired":
            when = graph_time(token.expires_at)
            raise graph_error(190, f"Error validating access token: Session has expired on {when}. The current time "
                                   f"is {graph_time(self.state.now())}.", subcode=463)
        if problem == "revoked":
            if token.revoked == "deauthorized":
                raise graph_error(190, f"Error validating access token: User {token.subject} has not authorized "
                                       "application.", subcode=458)
            raise graph_error(190, "Error validating access token: The session has been invalidated because the user "
                                   "changed their password or Facebook has changed the session for security reasons.",
                              subcode=460)

    def authenticate(self, req, params):
        value = params.get("access_token") or req.bearer()
        if not value:
            raise graph_error(104, "An access token is required to request this resource.")
        token = self.state.tokens.get(value)
        self.raise_token_problem(token)
        return token

    def granted(self, token):
        return self.state.fb_grants.get(token.subject, set())

    def require_permission(self, token, permission, what):
        if permission not in self.granted(token):
            raise permission_error(f"{what} requires the '{permission}' permission.")

    def require_page_token(self, token, page_id):
        if token.kind != "page" or token.page_id != page_id:
            raise permission_error("This action requires a Page access token of the Page it acts on "
                                   f"(Page {page_id}).")

    # users, pages, permissions ---------------------------------------------
    def permissions(self, token, user_id):
        if user_id != token.subject:
            raise unsupported(user_id)
        requested = self.granted(token)
        data = [{"permission": p, "status": "granted"} for p in sorted(requested)]
        return Response(200, {"data": data})

    def revoke_permissions(self, token, user_id, name):
        state = self.state
        if user_id != token.subject or token.kind != "user":
            raise unsupported(user_id, "delete")
        if name:
            state.fb_grants.get(user_id, set()).discard(name)
        else:
            state.fb_grants.pop(user_id, None)
            for other in state.tokens.values():
                if other.platform == "facebook" and other.subject == user_id:
                    other.revoked = "deauthorized"
        return Response(200, {"success": True})

    def accounts(self, token, user_id):
        state = self.state
        if token.kind != "user" or user_id != token.subject:
            raise graph_error(100, "(#100) Tried accessing nonexisting field (accounts) on node type (Page)")
        data = []
        if "pages_show_list" in self.granted(token):
            ttl = None if token.long_lived else max(1, token.expires_at - state.now())
            for page_id, page in world.FACEBOOK_PAGES.items():
                if page.get("business_manager") and "business_management" not in self.granted(token):
                    continue  # a Business Manager's Page: only with business_management
                page_token = state.issue("facebook", "page", token.subject, token.scopes, ttl,
                                         world.FACEBOOK_APP_ID, page_id=page_id, long_lived=token.long_lived)
                data.append({"access_token": page_token.value, "category": page["category"],
                             "category_list": [{"id": "1" + page_id, "name": page["category"]}],
                             "name": page["name"], "id": page_id, "tasks": list(page["tasks"])})
        cursors = {"before": base64.b64encode(b"first").decode(), "after": base64.b64encode(b"last").decode()}
        return Response(200, {"data": data, "paging": {"cursors": cursors}})

    # node reads -------------------------------------------------------------
    def read_node(self, token, node_id, params):
        return Response(200, self.render(token, node_id, params.get("fields")))

    def batch_read(self, req, params):
        token = self.authenticate(req, params)
        ids = list_param(params.get("ids"))
        if len(ids) > 50:
            raise graph_error(100, f"(#100) Too many IDs. Maximum: 50. Provided: {len(ids)}.")
        missing = [i for i in ids if not self.exists(i)]
        if missing:
            raise graph_error(100, "(#100) Some of the aliases you requested do not exist: " + ",".join(missing))
        return Response(200, {i: self.render(token, i, params.get("fields")) for i in ids})

    def exists(self, node_id):
        s = self.state
        return (node_id in (world.FACEBOOK_USER_ID,) or node_id in world.FACEBOOK_PAGES
                or node_id in world.INSTAGRAM_ACCOUNTS or node_id in s.fb_posts or node_id in s.fb_photos
                or node_id in s.fb_videos
                or node_id in s.ig_containers or node_id in s.ig_media)

    def render(self, token, node_id, fields_param):
        s = self.state
        fields = parse_fields(fields_param)
        if node_id == world.FACEBOOK_USER_ID:
            values = {"id": node_id, "name": world.FACEBOOK_USER_NAME}
            default = ["id", "name"]
        elif node_id in world.FACEBOOK_PAGES:
            page = world.FACEBOOK_PAGES[node_id]
            values = {"id": node_id, "name": page["name"], "category": page["category"],
                      "link": f"https://www.facebook.com/{node_id}", "fan_count": page.get("fan_count", 0)}
            if page["instagram_business_account"]:
                values["instagram_business_account"] = {"id": page["instagram_business_account"]}
            if "access_token" in fields and token.kind == "user" and "pages_show_list" in self.granted(token):
                values["access_token"] = s.issue("facebook", "page", token.subject, token.scopes,
                                                 None if token.long_lived else token.expires_at - s.now(),
                                                 world.FACEBOOK_APP_ID, page_id=node_id,
                                                 long_lived=token.long_lived).value
            default = ["name", "id"]
        elif node_id in world.INSTAGRAM_ACCOUNTS:
            account = world.INSTAGRAM_ACCOUNTS[node_id]
            media_count = sum(1 for m in s.ig_media.values() if m["ig_user"] == node_id)
            values = {"id": node_id, "username": account["username"], "name": account["name"],
                      "profile_picture_url": account["profile_picture_url"], "followers_count": 860,
                      "follows_count": 120, "media_count": media_count, "biography": "Golf since 1921."}
            default = ["id"]
        elif node_id in s.fb_posts:
            values = self.render_fb_post(s.fb_posts[node_id], fields)
            default = ["created_time", "message", "id"] if s.fb_posts[node_id]["message"] else ["created_time", "id"]
        elif node_id in s.fb_photos:
            photo = s.fb_photos[node_id]
            values = {"id": node_id, "created_time": graph_time(photo["created_at"]),
                      "link": f"https://www.facebook.com/photo.php?fbid={node_id}", "name": photo["caption"],
                      "images": [{"height": 800, "width": 640, "source": photo["url"]}]}
            default = ["created_time", "id"]
        elif node_id in s.fb_videos:
            values = self.render_fb_video(s.fb_videos[node_id])
            default = ["updated_time", "id"]
        elif node_id in s.ig_containers:
            container = s.ig_containers[node_id]
            status = self.container_status(container, poll=True)
            values = {"id": node_id, "status_code": status, "status": CONTAINER_STATUS_TEXT[status]}
            default = ["id"]
        elif node_id in s.ig_media:
            values = self.render_ig_media(s.ig_media[node_id])
            default = ["id"]
        else:
            raise unsupported(node_id)
        if "insights" in fields:
            values.update(self.expand_insights(token, node_id, field_modifiers(fields_param)["insights"]))
        wanted = fields or default
        optional = OPTIONAL_FIELDS - {"shares"} if node_id in s.fb_videos else OPTIONAL_FIELDS  # Video: no shares
        unknown = [f for f in wanted if f not in values and f not in optional]
        if unknown:
            raise graph_error(100, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type "
                                   f"({self.node_type(node_id)})")
        return {f: values[f] for f in wanted if f in values} | {"id": node_id}

    def expand_insights(self, token, node_id, modifiers):
        """The `insights.metric(...).period(...)` field: what the `/{id}/insights` edge answers, same
        refusals (a deprecated metric fails the whole read with code 100, as Graph does)."""
        if node_id in self.state.fb_posts:
            return {"insights": self.fb_insights(token, node_id, modifiers).body}
        if node_id in self.state.ig_media:
            return {"insights": self.ig_insights(token, node_id, modifiers).body}
        return {}

    def node_type(self, node_id):
        s = self.state
        if node_id == world.FACEBOOK_USER_ID:
            return "User"
        if node_id in world.FACEBOOK_PAGES:
            return "Page"
        if node_id in world.INSTAGRAM_ACCOUNTS:
            return "IGUser"
        if node_id in s.ig_containers:
            return "ShadowIGMediaBuilder"
        if node_id in s.ig_media:
            return "IGMedia"
        if node_id in s.fb_photos:
            return "Photo"
        if node_id in s.fb_videos:
            return "Video"
        return "Post"

    def render_fb_post(self, post, fields):
        m = self.state.metrics(post["id"], post["created_at"])
        values = {
            "id": post["id"], "message": post["message"], "created_time": graph_time(post["created_at"]),
            "updated_time": graph_time(post["created_at"]), "permalink_url": post["permalink_url"],
            "is_published": post["published"], "status_type": "added_photos" if post["photos"] else "mobile_status_update",
            "from": {"name": world.FACEBOOK_PAGES[post["page_id"]]["name"], "id": post["page_id"]},
            "reactions": {"data": [], "summary": {"total_count": m["likes"], "viewer_reaction": "NONE"}},
            "likes": {"data": [], "summary": {"total_count": m["likes"]}},
            "comments": {"data": [], "summary": {"order": "ranked", "total_count": m["comments"], "can_comment": True}},
        }
        if post["link"]:
            values["link"] = post["link"]
        if post["photos"]:
            values["full_picture"] = self.state.fb_photos[post["photos"][0]]["url"]
        if m["shares"]:
            values["shares"] = {"count": m["shares"]}
        if not post["message"]:
            values.pop("message")
        return values

    def render_ig_media(self, media):
        m = self.state.metrics(media["id"], media["created_at"])
        values = {"id": media["id"], "permalink": media["permalink"], "like_count": m["likes"],
                  "comments_count": m["comments"], "timestamp": graph_time(media["created_at"]),
                  "media_type": media["media_type"], "media_product_type": media["product_type"],
                  "media_url": media["media_url"], "shortcode": media["shortcode"],
                  "username": world.INSTAGRAM_ACCOUNTS[media["ig_user"]]["username"],
                  "owner": {"id": media["ig_user"]}, "is_comment_enabled": True}
        if media["caption"]:
            values["caption"] = media["caption"]
        return values

    # Facebook publishing ----------------------------------------------------
    def check_can_post(self, token, page_id):
        self.require_page_token(token, page_id)
        self.require_permission(token, "pages_manage_posts", "Publishing to a Page")
        if "CREATE_CONTENT" not in world.FACEBOOK_PAGES[page_id]["tasks"]:
            raise permission_error("The user does not have sufficient administrative permission (task "
                                   "CREATE_CONTENT) for this Page.")

    def post_feed(self, token, page_id, params):
        s = self.state
        self.check_can_post(token, page_id)
        message = params.get("message", "")
        link = params.get("link", "")
        attached = list_param(params.get("attached_media"))
        attached += [v for k, v in sorted(params.items()) if k.startswith("attached_media[")]
        photo_ids = []
        for index, item in enumerate(attached):
            try:
                media_fbid = str(json.loads(item)["media_fbid"]) if item.strip().startswith("{") else item
            except (ValueError, KeyError, TypeError):
                media_fbid = ""
            photo = s.fb_photos.get(media_fbid)
            if not photo or photo["page_id"] != page_id or photo["published"] or photo["post_id"]:
                raise graph_error(100, f"(#100) param attached_media[{index}] must be an unpublished photo of this "
                                       "Page that is not attached to another post")
            photo_ids.append(media_fbid)
        if not message and not link and not photo_ids:
            raise graph_error(100, "(#100) Posts where the message is empty and no link or media is attached are "
                                   "not allowed")
        published = params.get("published", "true").lower() != "false"
        if message:
            for post in s.fb_posts.values():
                if (post["page_id"] == page_id and post["message"] == message
                        and s.now() - post["created_at"] < DAY):
                    raise graph_error(506, "Duplicate status message", user_title="Duplicate Status Update",
                                      user_msg="This status update is identical to the last one you posted. "
                                               "Try posting something different, or delete your previous update.")
        post = self.create_fb_post(page_id, message, link, photo_ids, published,
                                   params.get("scheduled_publish_time"))
        return Response(200, {"id": post["id"]})

    def create_fb_post(self, page_id, message, link, photo_ids, published, scheduled=None):
        s = self.state
        raw_id = s.next_id("fb_post")
        post_id = f"{page_id}_{raw_id}"
        post = {"id": post_id, "page_id": page_id, "message": message, "link": link, "photos": photo_ids,
                "published": published, "scheduled_publish_time": scheduled, "created_at": s.now(),
                "permalink_url": f"https://www.facebook.com/{page_id}/posts/{raw_id}"}
        s.fb_posts[post_id] = post
        for photo_id in photo_ids:
            s.fb_photos[photo_id]["post_id"] = post_id
        s.published.append({
            "platform": "facebook", "account_id": page_id, "post_id": post_id, "text": message,
            "media": [s.fb_photos[p]["url"] for p in photo_ids], "link": link or None,
            "alt_texts": [s.fb_photos[p].get("alt_text") or "" for p in photo_ids],
            "created_at": post["created_at"], "url": post["permalink_url"], "published": published})
        return post

    def post_photo(self, req, token, page_id, params):
        s = self.state
        self.check_can_post(token, page_id)
        url = params.get("url")
        if "source" in req.files:
            data = req.files["source"]
        elif url:
            try:
                with s.unlocked():
                    data = fetch_image(url)
            except MediaFetchError as exc:
                raise graph_error(324, f"(#324) Missing or invalid image file ({exc})",
                                  user_title="Missing or invalid image file") from None
        else:
            raise graph_error(324, "(#324) Requires upload file")
        caption = params.get("caption", params.get("message", ""))
        published = params.get("published", "true").lower() != "false"
        alt_text = params.get("alt_text_custom")
        if alt_text is not None and not alt_text.strip():
            raise graph_error(100, "(#100) param alt_text_custom must be a non-empty string")
        photo_id = s.next_id("fb_photo")
        s.fb_photos[photo_id] = {"id": photo_id, "page_id": page_id, "url": url or "upload", "caption": caption,
                                 "published": published, "post_id": None, "created_at": s.now(),
                                 "size": len(data), "alt_text": alt_text}
        if not published:
            return Response(200, {"id": photo_id})
        s.fb_photos[photo_id]["published"] = False  # let create_fb_post attach it
        post = self.create_fb_post(page_id, caption, "", [photo_id], True)
        s.fb_photos[photo_id]["published"] = True
        return Response(200, {"id": photo_id, "post_id": post["id"]})

    def post_video(self, token, page_id, params):
        """POST /{page}/videos with file_url (fetched by the platform) and description: needs
        publish_video besides the posting rights; the video then processes for the time set for
        Facebook (simulated clock) before it is ready."""
        s = self.state
        self.check_can_post(token, page_id)
        self.require_permission(token, "publish_video", "Publishing a video to a Page")
        url = params.get("file_url")
        if not url:
            raise graph_error(100, "(#100) The parameter file_url or source is required")
        try:
            with s.unlocked():
                fetch_image(url, video=True)
        except MediaFetchError as exc:
            raise graph_error(351, f"(#351) Sorry, there was a problem with your video file ({exc})",
                              user_title="Video file problem") from None
        video_id = s.next_id("fb_video")
        processing = s.processing["facebook"]
        s.fb_videos[video_id] = {
            "id": video_id, "page_id": page_id, "url": url, "description": params.get("description", ""),
            "title": params.get("title", ""), "created_at": s.now(), "processing": (processing["seconds"],
                                                                                   processing["outcome"]),
            "permalink_url": f"https://www.facebook.com/{page_id}/videos/{video_id}/"}
        s.published.append({
            "platform": "facebook", "account_id": page_id, "post_id": video_id,
            "text": s.fb_videos[video_id]["description"], "media": [url], "link": None,
            "created_at": s.now(), "url": s.fb_videos[video_id]["permalink_url"], "published": True})
        return Response(200, {"id": video_id})

    def video_status(self, video):
        seconds, outcome = video["processing"]
        elapsed = self.state.now() - video["created_at"]
        if elapsed < seconds:
            return {"video_status": "processing", "processing_progress": int(100 * elapsed / max(seconds, 1)),
                    "uploading_phase": {"status": "complete"}, "processing_phase": {"status": "in_progress"}}
        if outcome == "error":
            return {"video_status": "error", "uploading_phase": {"status": "complete"},
                    "processing_phase": {"status": "error", "error": {"message": "The video could not be "
                                                                                 "processed."}}}
        return {"video_status": "ready", "processing_progress": 100, "uploading_phase": {"status": "complete"},
                "processing_phase": {"status": "complete"}, "publishing_phase": {"status": "complete"}}

    def render_fb_video(self, video):
        m = self.state.metrics(video["id"], video["created_at"])
        values = {"id": video["id"], "description": video["description"], "title": video["title"],
                  "created_time": graph_time(video["created_at"]), "updated_time": graph_time(video["created_at"]),
                  "permalink_url": video["permalink_url"], "status": self.video_status(video),
                  "from": {"name": world.FACEBOOK_PAGES[video["page_id"]]["name"], "id": video["page_id"]},
                  "reactions": {"data": [], "summary": {"total_count": m["likes"], "viewer_reaction": "NONE"}},
                  "comments": {"data": [], "summary": {"order": "ranked", "total_count": m["comments"],
                                                        "can_comment": True}}}
        if not video["description"]:
            values.pop("description")
        return values

    def page_feed(self, token, page_id, params):
        s = self.state
        since, until = parse_time(params.get("since")), parse_time(params.get("until"))
        limit = min(100, int(params.get("limit", 25) or 25))
        posts = [p for p in s.fb_posts.values() if p["page_id"] == page_id and p["published"]
                 and (since is None or p["created_at"] >= since) and (until is None or p["created_at"] <= until)]
        posts.sort(key=lambda p: (p["created_at"], p["id"]), reverse=True)
        fields = parse_fields(params.get("fields")) or ["created_time", "message", "id"]
        page, paging = cursor_page(posts, params, limit, path=f"{page_id}/feed")
        data = []
        for post in page:
            values = self.render_fb_post(post, fields)
            data.append({f: values[f] for f in fields if f in values} | {"id": post["id"]})
        return Response(200, {"data": data, "paging": paging})

    def fb_insights(self, token, post_id, params):
        page_id = self.state.fb_posts[post_id]["page_id"]
        self.require_page_token(token, page_id)
        self.require_permission(token, "pages_read_engagement", "Reading Page post insights")
        self.require_permission(token, "read_insights", "Reading Page post insights")
        if world.FACEBOOK_PAGES[page_id].get("fan_count", 0) < world.FACEBOOK_INSIGHTS_MIN_FANS:
            raise graph_error(100, f"(#100) Insights are only available for Pages with {world.FACEBOOK_INSIGHTS_MIN_FANS}"
                                   " or more likes.")
        metrics = list_param(params.get("metric"))
        if not metrics or any(m not in FB_INSIGHT_METRICS for m in metrics):
            raise graph_error(100, "(#100) The value must be a valid insights metric")
        m = self.state.metrics(post_id, self.state.fb_posts[post_id]["created_at"])
        values = {"post_media_view": m["impressions"], "post_total_media_view_unique": m["reach"],
                  "post_reactions_by_type_total": {"like": m["likes"]} if m["likes"] else {},
                  "post_reactions_like_total": m["likes"], "post_clicks": m["clicks"],
                  "post_clicks_by_type": {"other clicks": m["clicks"]} if m["clicks"] else {}}
        data = [{"name": name, "period": "lifetime", "values": [{"value": values[name]}],
                 "title": INSIGHT_TITLES.get(name, name), "description": INSIGHT_TITLES.get(name, name),
                 "id": f"{post_id}/insights/{name}/lifetime"} for name in metrics]
        return Response(200, {"data": data, "paging": {}})

    # Instagram --------------------------------------------------------------
    def check_ig_token(self, token, ig_user, permission):
        page_id = world.INSTAGRAM_ACCOUNTS[ig_user]["page_id"]
        if token.kind == "page" and token.page_id != page_id:
            raise permission_error(f"The Page access token does not belong to the Page linked to {ig_user}.")
        if permission:
            self.require_permission(token, permission, "This Instagram action")
        self.require_permission(token, "instagram_basic", "Reading Instagram accounts")

    def container_status(self, container, poll=False):
        """Images finish after one poll or one second; videos (REELS, VIDEO) take the processing
        time set for Instagram (simulated clock) and end FINISHED or ERROR; a carousel is as far as
        its slowest child."""
        s = self.state
        age = s.now() - container["created_at"]
        if container["media_id"]:
            status = "PUBLISHED"
        elif age >= world.INSTAGRAM_CONTAINER_TTL:
            status = "EXPIRED"
        elif container.get("processing") is not None:
            seconds, outcome = container["processing"]
            status = "IN_PROGRESS" if age < seconds else ("ERROR" if outcome == "error" else "FINISHED")
        elif container["children"]:
            states = {self.container_status(s.ig_containers[c]) for c in container["children"]}
            status = next((x for x in ("ERROR", "EXPIRED", "IN_PROGRESS") if x in states), "FINISHED")
        elif container["polls"] >= 1 or age >= 1.0:
            status = "FINISHED"
        else:
            status = "IN_PROGRESS"
        if poll:
            container["polls"] += 1
        return status

    def ig_create_container(self, token, ig_user, params):
        s = self.state
        self.check_ig_token(token, ig_user, "instagram_content_publish")
        media_type = params.get("media_type", "IMAGE").upper()
        caption = params.get("caption", "")
        if len(caption) > 2200:
            raise graph_error(100, "(#100) The caption is too long: the maximum is 2,200 characters.",
                              user_msg="Captions can be at most 2,200 characters long.")
        if len(re.findall(r"(?<!\w)#\w", caption)) > 30:
            raise graph_error(100, "(#100) The caption has more than 30 hashtags.",
                              user_msg="Captions can contain at most 30 hashtags.")
        if len(re.findall(r"(?<!\w)@\w", caption)) > 20:
            raise graph_error(100, "(#100) The caption has more than 20 @mentions.",
                              user_msg="Captions can contain at most 20 @mentions.")
        children = []
        url = None
        if media_type == "CAROUSEL":
            children = list_param(params.get("children"))
            if len(children) > 10:
                raise graph_error(100, "(#100) A carousel can have at most 10 children.")
            if len(children) < 2:
                raise graph_error(100, "(#100) A carousel needs at least 2 children.")
            for child_id in children:
                child = s.ig_containers.get(child_id)
                if (not child or child["ig_user"] != ig_user or not child["is_carousel_item"]
                        or self.container_status(child) not in ("FINISHED", "IN_PROGRESS")):
                    raise graph_error(100, f"(#100) The carousel child {child_id} is not a valid, unexpired "
                                           "carousel item container of this account.")
        elif media_type in ("REELS", "VIDEO", "STORIES") and params.get("video_url"):
            url = params["video_url"]
            self.fetch_ig(url, video=True)
            processing = s.processing["instagram"]
        elif media_type in ("IMAGE", "STORIES"):
            url = params.get("image_url")
            if not url:
                raise missing_param("image_url")
            self.fetch_ig(url)
        else:
            raise graph_error(100, f"(#100) media_type {media_type} needs its media URL (image_url or video_url)")
        alt_text = params.get("alt_text")
        if alt_text is not None and (media_type not in ("IMAGE",) or params.get("video_url")):
            raise graph_error(100, "(#100) alt_text is only supported for image posts and carousel image items")
        container_id = s.next_id("ig_container")
        s.ig_containers[container_id] = {
            "id": container_id, "ig_user": ig_user, "media_type": media_type, "url": url, "caption": caption,
            "alt_text": params.get("alt_text"), "children": children,
            "is_carousel_item": truthy(params.get("is_carousel_item", "false")), "created_at": s.now(),
            "polls": 0, "media_id": None,
            "processing": (processing["seconds"], processing["outcome"]) if url and media_type != "IMAGE"
            and params.get("video_url") else None}
        return Response(200, {"id": container_id})

    def fetch_ig(self, url, video=False):
        try:
            with self.state.unlocked():
                fetch_image(url, jpeg_only=not video, video=video)
        except MediaFetchError as exc:
            raise graph_error(9004, "Media download has failed. The media URI doesn't meet our requirements.",
                              subcode=2207052, user_title="Media download has failed",
                              user_msg=f"The media could not be fetched from the URI: {exc}") from None

    def ig_publish(self, token, ig_user, params):
        s = self.state
        self.check_ig_token(token, ig_user, "instagram_content_publish")
        creation_id = params.get("creation_id")
        if not creation_id:
            raise missing_param("creation_id")
        container = s.ig_containers.get(creation_id)
        if not container or container["ig_user"] != ig_user:
            raise graph_error(100, f"(#100) Param creation_id {creation_id} is not a valid container of this "
                                   "account")
        status = self.container_status(container)
        if status == "PUBLISHED":
            raise graph_error(9007, "The media has already been published.",
                              user_title="Media already published",
                              user_msg=f"Container {creation_id} was published as media {container['media_id']}.")
        if status == "EXPIRED":
            raise graph_error(100, "The media container has expired. Create a new container.", subcode=2207006,
                              user_title="Media expired")
        if status == "ERROR":
            raise graph_error(9007, "The media could not be processed.", subcode=2207032,
                              user_title="Create media fail", user_msg="The media could not be processed; create a "
                                                                       "new container.")
        if status != "FINISHED":
            raise graph_error(9007, "Media ID is not available", subcode=2207027,
                              user_title="Media is not ready to be published",
                              user_msg="The media is not ready for publishing, please wait for a moment")
        if container["is_carousel_item"]:
            raise graph_error(100, "(#100) A carousel item container cannot be published on its own.")
        used = self.quota_usage(ig_user)
        if used >= s.ig_quota_total:
            raise graph_error(9, "Application request limit reached", subcode=2207042,
                              user_title="Maximum number of posts reached",
                              user_msg="You have reached the maximum number of posts that is allowed to be "
                                       "published by the API in 24 hours.")
        media_id = s.next_id("ig_media")
        shortcode = base64.urlsafe_b64encode(hashlib.sha256(media_id.encode()).digest()[:8]).decode().rstrip("=")
        urls = ([s.ig_containers[c]["url"] for c in container["children"]] if container["children"]
                else [container["url"]])
        alt_texts = ([s.ig_containers[c].get("alt_text") or "" for c in container["children"]]
                     if container["children"] else [container.get("alt_text") or ""])
        media = {"id": media_id, "ig_user": ig_user, "caption": container["caption"], "created_at": s.now(),
                 "shortcode": shortcode, "permalink": f"https://www.instagram.com/p/{shortcode}/",
                 "media_type": {"CAROUSEL": "CAROUSEL_ALBUM", "REELS": "VIDEO", "VIDEO": "VIDEO"}.get(
                     container["media_type"], "IMAGE"),
                 "product_type": "REELS" if container["media_type"] == "REELS" else "FEED",
                 "media_url": urls[0], "container_id": creation_id}
        s.ig_media[media_id] = media
        container["media_id"] = media_id
        s.published.append({"platform": "instagram", "account_id": ig_user, "post_id": media_id,
                            "text": container["caption"], "media": urls, "link": None, "alt_texts": alt_texts,
                            "created_at": media["created_at"], "url": media["permalink"], "published": True})
        return Response(200, {"id": media_id})

    def quota_usage(self, ig_user):
        now = self.state.now()
        return sum(1 for m in self.state.ig_media.values() if m["ig_user"] == ig_user and now - m["created_at"] < DAY)

    def ig_publishing_limit(self, token, ig_user, params):
        self.check_ig_token(token, ig_user, None)
        fields = parse_fields(params.get("fields")) or ["quota_usage"]
        entry = {}
        if "quota_usage" in fields:
            entry["quota_usage"] = self.quota_usage(ig_user)
        if "config" in fields:
            entry["config"] = {"quota_total": self.state.ig_quota_total, "quota_duration": DAY}
        return Response(200, {"data": [entry]})

    def ig_media_list(self, token, ig_user, params):
        self.check_ig_token(token, ig_user, None)
        since, until = parse_time(params.get("since")), parse_time(params.get("until"))
        limit = min(100, int(params.get("limit", 25) or 25))
        media = [m for m in self.state.ig_media.values() if m["ig_user"] == ig_user
                 and (since is None or m["created_at"] >= since) and (until is None or m["created_at"] <= until)]
        media.sort(key=lambda m: (m["created_at"], m["id"]), reverse=True)
        fields = parse_fields(params.get("fields")) or ["id"]
        page, paging = cursor_page(media, params, limit, path=f"{ig_user}/media")
        data = []
        for item in page:
            values = self.render_ig_media(item)
            data.append({f: values[f] for f in fields if f in values} | {"id": item["id"]})
        return Response(200, {"data": data, "paging": paging})

    def ig_insights(self, token, media_id, params):
        media = self.state.ig_media[media_id]
        self.check_ig_token(token, media["ig_user"], "instagram_manage_insights")
        metrics = list_param(params.get("metric"))
        if not metrics:
            raise missing_param("metric")
        for index, name in enumerate(metrics):
            if name not in IG_INSIGHT_METRICS:
                raise graph_error(100, f"(#100) metric[{index}] must be one of the following values: "
                                       + ", ".join(IG_INSIGHT_METRICS))
        m = self.state.metrics(media_id, media["created_at"])
        if m["reach"] < world.INSTAGRAM_INSIGHTS_MIN_REACH:
            raise graph_error(10, "(#10) Not enough viewers for the media to show insights",
                              user_title="Not enough viewers",
                              user_msg="Insights are not available for this media because too few people saw it.")
        values = {"views": m["impressions"], "reach": m["reach"], "likes": m["likes"], "comments": m["comments"],
                  "shares": m["shares"], "saved": m["saves"],
                  "total_interactions": m["likes"] + m["comments"] + m["shares"] + m["saves"],
                  "profile_visits": m["likes"] // 10, "follows": m["likes"] // 50}
        data = [{"name": name, "period": "lifetime", "values": [{"value": values[name]}],
                 "title": name.replace("_", " ").capitalize(), "description": name.replace("_", " "),
                 "id": f"{media_id}/insights/{name}/lifetime"} for name in metrics]
        return Response(200, {"data": data})


CONTAINER_STATUS_TEXT = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "PUBLISHED": "Published: Media has been published.",
    "EXPIRED": "Expired: The media container was not published within 24 hours.",
    "ERROR": "Error: Media could not be processed.",
}
INSIGHT_TITLES = {
    "post_media_view": "Media views", "post_total_media_view_unique": "Media viewers",
    "post_reactions_by_type_total": "Total post reactions by type", "post_clicks": "Post clicks",
    "post_clicks_by_type": "Post clicks by type", "post_reactions_like_total": "Like reactions",
}
OPTIONAL_FIELDS = {"shares", "message", "caption", "link", "full_picture", "access_token", "instagram_business_account",
                   "picture", "attachments", "story", "privacy", "tasks", "about", "website", "status"}
