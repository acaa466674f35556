"""X API v2: OAuth 2.0 with PKCE, tweets, media upload, metrics and rate-limit headers."""

import base64
import binascii
import datetime as dt
import hashlib
import math
import re
import unicodedata

from . import world
from .consent import consent_decision, consent_page
from .protocol import HttpError, Response, error_page, redirect

WINDOW = 15 * 60
LIMITS = {
    ("POST", "/2/tweets"): world.X_TWEETS_PER_15_MIN,
    ("GET", "/2/tweets"): 5000,
    ("GET", "/2/users/me"): 75,
    ("GET", "/2/users/:id/tweets"): 900,
    ("POST", "/2/media/upload"): 500,
    ("POST", "/2/media/upload/initialize"): 500,
    ("POST", "/2/media/upload/:id/append"): 500,
    ("POST", "/2/media/upload/:id/finalize"): 500,
    ("GET", "/2/media/upload"): 500,
    ("POST", "/2/media/metadata"): 500,
    ("DELETE", "/2/tweets/:id"): 50,
}
DAY = 24 * 3600
# Settable through POST /_sim/x; reset by POST /_sim/reset.
X_DEFAULTS = {
    "user_24h_limit": world.X_TWEETS_PER_24H_USER,
    "app_24h_limit": world.X_TWEETS_PER_24H_APP,
    "processing_seconds": world.X_PROCESSING_SECONDS,
    "processing_fails": False,
    "chunk_max_bytes": world.X_CHUNK_MAX_BYTES,
    "image_max_bytes": world.X_MEDIA_LIMITS["image"],
    "gif_max_bytes": world.X_MEDIA_LIMITS["gif"],
    "video_max_bytes": world.X_MEDIA_LIMITS["video"],
}
# The one-shot upload takes still images only (its media_type enum has no image/gif).
ONE_SHOT_TYPES = {b"\xff\xd8": "image/jpeg", b"\x89PNG": "image/png", b"RIFF": "image/webp", b"BM": "image/bmp"}
CHUNKED_TYPES = {"image/jpeg": "image", "image/png": "image", "image/webp": "image", "image/bmp": "image",
                 "image/gif": "gif", "video/mp4": "video", "video/quicktime": "video"}
CATEGORY_KINDS = {"tweet_image": "image", "dm_image": "image", "tweet_gif": "gif", "dm_gif": "gif",
                  "tweet_video": "video", "amplify_video": "video", "dm_video": "video"}
MEDIA_KEY_PREFIX = {"image": "3", "gif": "16", "video": "7"}
DEFAULT_LIMIT = 900
CLIENTS = {world.X_CLIENT_ID: world.X_CLIENT_SECRET, world.X_PUBLIC_CLIENT_ID: None}
URL_RE = re.compile(r"https?://[^\s]+|(?<![\w@])(?:[a-z0-9-]+\.)+(?:com|org|net|io|co|uk|golf|club)(?:/[^\s]*)?",
                    re.IGNORECASE)
LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
SCOPES_REQUIRED = {
    ("GET", "/2/users/me"): ("tweet.read", "users.read"),
    ("POST", "/2/tweets"): ("tweet.read", "tweet.write", "users.read"),
    ("DELETE", "/2/tweets/:id"): ("tweet.read", "tweet.write", "users.read"),
    ("GET", "/2/tweets"): ("tweet.read", "users.read"),
    ("GET", "/2/tweets/:id"): ("tweet.read", "users.read"),
    ("GET", "/2/users/:id/tweets"): ("tweet.read", "users.read"),
    ("POST", "/2/media/upload"): ("media.write",),
    ("POST", "/2/media/upload/initialize"): ("media.write",),
    ("POST", "/2/media/upload/:id/append"): ("media.write",),
    ("POST", "/2/media/upload/:id/finalize"): ("media.write",),
    ("GET", "/2/media/upload"): ("media.write",),
    ("POST", "/2/media/metadata"): ("media.write",),
}
# POST /2/media/metadata: `alt_text.text` of an image or GIF, at most 1,000 characters.
ALT_TEXT_MAX = 1000
TRAILING_PUNCTUATION = ".,:;!?'\")"


def x_config(state, name):
    return state.x_config.get(name, X_DEFAULTS[name])


def url_spans(text):
    """Where X finds links in a text (twitter-text: trailing periods and commas are not part of a URL)."""
    spans = []
    for match in URL_RE.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in TRAILING_PUNCTUATION:
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def page_token(below_id):
    """An opaque next_token (the real API's are opaque too): the page starts below this tweet id."""
    return base64.urlsafe_b64encode(f"below:{below_id}".encode()).decode().rstrip("=")


def decode_page_token(token):
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "below" and number.isdigit() else None


def tco(seed):
    return "https://t.co/" + hashlib.sha256(seed.encode()).hexdigest()[:10]


def display_url(expanded):
    shown = re.sub(r"^https?://", "", expanded)
    return shown if len(shown) <= 26 else shown[:25] + "\u2026"


def stored_text(text, tweet_id, media):
    """The text as X keeps and returns it: every link wrapped in t.co, `& < >` HTML-escaped, and a
    t.co link to the media appended when media is attached; with the matching `entities.urls`."""
    out, urls, position = "", [], 0
    for number, (start, end) in enumerate(url_spans(text)):
        out += escape(text[position:start])
        written = text[start:end]
        expanded = written if re.match(r"https?://", written, re.IGNORECASE) else "http://" + written
        short = tco(f"{tweet_id}:{number}:{written}")
        urls.append({"start": len(out), "end": len(out) + len(short), "url": short, "expanded_url": expanded,
                     "display_url": display_url(expanded)})
        out += short
        position = end
    out += escape(text[position:])
    if media:
        first = media[0]
        kind = "video" if first.get("kind") in ("video", "gif") else "photo"
        short = tco(f"{tweet_id}:media")
        out = f"{out} " if out else out
        urls.append({"start": len(out), "end": len(out) + len(short), "url": short,
                     "expanded_url": f"https://x.com/{world.X_USERNAME}/status/{tweet_id}/{kind}/1",
                     "display_url": f"pic.x.com/{short.rsplit('/', 1)[1]}",
                     "media_key": first.get("media_key", f"3_{first['id']}")})
        out += short
    return out, urls


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def weighted_length(text):
    """twitter-text v3 weighting: URLs count 23, light ranges 1, everything else (CJK, emoji) 2."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    total += 23 * len(URL_RE.findall(text))
    text = URL_RE.sub("", text)
    previous_joiner = False
    for char in text:
        point = ord(char)
        if point == 0x200D:  # zero-width joiner: the joined emoji counts as one
            previous_joiner = True
            continue
        if previous_joiner or 0xFE00 <= point <= 0xFE0F or 0x1F3FB <= point <= 0x1F3FF:
            previous_joiner = False
            continue
        total += 1 if any(lo <= point <= hi for lo, hi in LIGHT_RANGES) else 2
    return total


def problem(status, title, detail, type_="about:blank", **extra):
    return HttpError(Response(status, {"title": title, "detail": detail, "type": type_, "status": status, **extra}))


def oauth_error(description, error="invalid_request", status=400):
    return HttpError(Response(status, {"error": error, "error_description": description}))


def unauthorized():
    return problem(401, "Unauthorized", "Unauthorized")


def invalid_request(message, parameters=None):
    error = {"message": message}
    if parameters:
        error["parameters"] = parameters
    return HttpError(Response(400, {
        "errors": [error], "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request"}))


def x_time(t):
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_x_time(value, name):
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise invalid_request(f"Invalid '{name}':'{value}'. '{name}' must be a valid ISO 8601 timestamp.",
                              {name: [value]}) from None


def route_key(method, path):
    if re.fullmatch(r"/2/tweets/\d+", path):
        return method, "/2/tweets/:id"
    if re.fullmatch(r"/2/users/\d+/tweets", path):
        return method, "/2/users/:id/tweets"
    found = re.fullmatch(r"/2/media/upload/\d+/(append|finalize)", path)
    if found:
        return method, f"/2/media/upload/:id/{found.group(1)}"
    return method, path


def fault_error(kind, options, state, subject):
    if kind == "server_error":
        status = int(options.get("status", 503))
        title = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Error")
        return problem(status, title, title)
    if kind == "rate_limit":
        reset = int(state.real_epoch(state.now()) + float(options.get("reset_after", 60)))
        error = problem(429, "Too Many Requests", "Too Many Requests")
        error.response.headers.update({"x-rate-limit-limit": str(options.get("limit", world.X_TWEETS_PER_15_MIN)),
                                       "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
        return error
    if kind in ("revoked_token", "expired_token"):
        return unauthorized()
    if kind == "duplicate":
        return problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
    if kind == "permission":
        return problem(403, "Forbidden", "You are not permitted to perform this action.")
    raise ValueError(kind)


class Twitter:
    def __init__(self, state):
        self.state = state

    def handle(self, req):
        path, method = req.path.rstrip("/") or "/", req.method
        if path == "/i/oauth2/authorize":
            return self.authorize(req) if method == "GET" else self.authorize_decision(req)
        if (method, path) == ("POST", "/2/oauth2/token"):
            return self.token(req)
        if (method, path) == ("POST", "/2/oauth2/revoke"):
            return self.revoke(req)
        key = route_key(method, path)
        if key not in SCOPES_REQUIRED:
            raise problem(404, "Not Found Error", f"The endpoint {method} {path} does not exist.",
                          "https://api.twitter.com/2/problems/resource-not-found")
        token = self.authenticate(req)
        headers = self.count_call(token.subject, key)
        if key == ("POST", "/2/tweets"):
            headers = self.count_day(token, headers)
        try:
            missing = [s for s in SCOPES_REQUIRED[key] if s not in token.scopes]
            if missing:
                raise problem(403, "Forbidden", f"Your access token is missing the scopes: {', '.join(missing)}.")
            response = self.dispatch(req, key, token)
        except HttpError as exc:
            exc.response.headers = {**headers, **exc.response.headers}
            raise
        response.headers = {**headers, **response.headers}
        return response

    def dispatch(self, req, key, token):
        if key == ("GET", "/2/users/me"):
            return Response(200, {"data": {"id": world.X_USER_ID, "name": world.X_USER_NAME,
                                           "username": world.X_USERNAME}})
        if key == ("POST", "/2/tweets"):
            return self.create_tweet(req, token)
        if key == ("GET", "/2/tweets"):
            return self.lookup(req)
        if key == ("GET", "/2/tweets/:id"):
            return self.lookup_one(req)
        if key == ("DELETE", "/2/tweets/:id"):
            return self.delete_tweet(req, token)
        if key == ("GET", "/2/users/:id/tweets"):
            return self.user_tweets(req)
        if key == ("POST", "/2/media/upload"):
            return self.upload(req, token)
        if key == ("POST", "/2/media/upload/initialize"):
            return self.upload_initialize(req, token)
        if key == ("POST", "/2/media/upload/:id/append"):
            return self.upload_append(req, token)
        if key == ("POST", "/2/media/upload/:id/finalize"):
            return self.upload_finalize(req, token)
        if key == ("GET", "/2/media/upload"):
            return self.upload_status(req, token)
        if key == ("POST", "/2/media/metadata"):
            return self.media_metadata(req, token)
        raise AssertionError(key)

    # rate limits ------------------------------------------------------------
    def count_call(self, subject, key):
        state = self.state
        limit = LIMITS.get(key, DEFAULT_LIMIT)
        window = state.x_windows.get((subject, key))
        if window is None or state.now() >= window[0] + WINDOW:
            window = state.x_windows[(subject, key)] = [state.now(), 0]
        window[1] += 1
        reset = int(state.real_epoch(window[0] + WINDOW))
        headers = {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(max(0, limit - window[1])),
                   "x-rate-limit-reset": str(reset)}
        if window[1] > limit:
            error = problem(429, "Too Many Requests", "Too Many Requests")
            error.response.headers.update(headers)
            raise error
        return headers

    def count_day(self, token, headers):
        """POST /2/tweets also has 24-hour caps per user and per app, each with its own headers;
        a 429 from either leaves x-rate-limit-remaining (the 15-minute window) above zero."""
        state, exhausted = self.state, False
        headers = dict(headers)
        for scope, subject, limit in (("user", token.subject, x_config(state, "user_24h_limit")),
                                      ("app", token.client_id, x_config(state, "app_24h_limit"))):
            window = state.x_day_windows.get((scope, subject))
            if window is None or state.now() >= window[0] + DAY:
                window = state.x_day_windows[(scope, subject)] = [state.now(), 0]
            if window[1] >= int(limit):
                exhausted = True
            headers.update({f"x-{scope}-limit-24hour-limit": str(int(limit)),
                            f"x-{scope}-limit-24hour-remaining": str(max(0, int(limit) - window[1])),
                            f"x-{scope}-limit-24hour-reset": str(int(state.real_epoch(window[0] + DAY)))})
        if exhausted:
            error = problem(429, "Too Many Requests", "Too Many Requests")
            error.response.headers.update(headers)
            raise error
        for scope, subject in (("user", token.subject), ("app", token.client_id)):
            window = state.x_day_windows[(scope, subject)]
            window[1] += 1
            headers[f"x-{scope}-limit-24hour-remaining"] = str(
                max(0, int(headers[f"x-{scope}-limit-24hour-limit"]) - window[1]))
        return headers

    def rate_headers(self, subject, key):
        limit = LIMITS.get(key, DEFAULT_LIMIT)
        window = self.state.x_windows.get((subject, key))
        used = window[1] if window and self.state.now() < window[0] + WINDOW else 0
        start = window[0] if window and used else self.state.now()
        return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(max(0, limit - used)),
                "x-rate-limit-reset": str(int(self.state.real_epoch(start + WINDOW)))}

    # OAuth ------------------------------------------------------------------
    def authorize(self, req):
        q = req.query
        if q.get("client_id") not in CLIENTS:
            return error_page("Something went wrong: you weren't able to give access to the App (unknown client_id).")
        if not q.get("redirect_uri"):
            return error_page("Something went wrong: redirect_uri is missing.")
        if q.get("response_type") != "code":
            return error_page("Something went wrong: response_type must be code.")
        if not q.get("code_challenge"):
            return error_page("Something went wrong: code_challenge is required (PKCE).")
        if q.get("code_challenge_method") != "S256":
            return error_page("Something went wrong: code_challenge_method must be S256.")
        scopes = [s for s in q.get("scope", "").split() if s]
        if not scopes:
            return error_page("Something went wrong: scope is required.")
        return consent_page(self.state, req, platform="twitter", user_name=f"@{world.X_USERNAME}",
                            app_name="SocialCRM (simulated app)", scopes=scopes, checkboxes=False,
                            callback={"client_id": q["client_id"], "redirect_uri": q["redirect_uri"],
                                      "state": q.get("state"), "code_challenge": q["code_challenge"]})

    def authorize_decision(self, req):
        result, problem_page = consent_decision(self.state, req, "twitter", checkboxes=False)
        if problem_page:
            return problem_page
        consent, allowed, granted = result
        extra = {"state": consent["state"]} if consent["state"] is not None else {}
        if not allowed:
            return redirect(consent["redirect_uri"], {"error": "access_denied", **extra})
        code = self.state.new_code("twitter", consent["client_id"], consent["redirect_uri"], granted,
                                   world.X_CODE_TTL, consent["code_challenge"])
        return redirect(consent["redirect_uri"], {**extra, "code": code.value})

    def client(self, req):
        basic = req.basic()
        if basic:
            client_id, secret = basic
            if client_id in CLIENTS and CLIENTS[client_id] is not None and CLIENTS[client_id] == secret:
                return client_id
            raise oauth_error("Missing valid authorization header", "unauthorized_client", 401)
        client_id = req.form.get("client_id")
        if client_id in CLIENTS and CLIENTS[client_id] is None:
            return client_id
        raise oauth_error("Missing valid authorization header", "unauthorized_client", 401)

    def issue_pair(self, client_id, scopes):
        state = self.state
        access = state.issue("twitter", "access", world.X_USER_ID, scopes, world.X_ACCESS_TOKEN_TTL, client_id)
        body = {"token_type": "bearer", "expires_in": world.X_ACCESS_TOKEN_TTL, "access_token": access.value,
                "scope": " ".join(scopes)}
        if "offline.access" in scopes:
            refresh = state.issue("twitter", "refresh", world.X_USER_ID, scopes, world.X_REFRESH_TOKEN_TTL, client_id)
            refresh.pair, access.pair = access.value, refresh.value
            body["refresh_token"] = refresh.value
        return Response(200, body)

    def token(self, req):
        state = self.state
        client_id = self.client(req)
        form = req.form
        grant = form.get("grant_type")
        if grant == "authorization_code":
            for name in ("code", "redirect_uri", "code_verifier"):
                if not form.get(name):
                    raise oauth_error(f"Missing required parameter [{name}].")
            code = state.codes.get(form["code"])
            if (code is None or code.platform != "twitter" or code.used or code.client_id != client_id
                    or state.now() >= code.expires_at or code.redirect_uri != form["redirect_uri"]):
                raise oauth_error("Value passed for the authorization code was invalid.")
            digest = hashlib.sha256(form["code_verifier"].encode()).digest()
            if base64.urlsafe_b64encode(digest).decode().rstrip("=") != code.code_challenge:
                raise oauth_error("Value passed for the authorization code was invalid.")
            code.used = True
            return self.issue_pair(client_id, code.scopes)
        if grant == "refresh_token":
            old = state.tokens.get(form.get("refresh_token", ""))
            if (old is None or old.platform != "twitter" or old.kind != "refresh" or old.client_id != client_id
                    or state.token_problem(old)):
                raise oauth_error("Value passed for the token was invalid.")
            old.revoked = "rotated"
            if old.pair in state.tokens:
                state.tokens[old.pair].revoked = "rotated"
            return self.issue_pair(client_id, sorted(old.scopes, key=_scope_order))
        raise oauth_error("Missing required parameter [grant_type].")

    def revoke(self, req):
        self.client(req)
        token = self.state.tokens.get(req.form.get("token", ""))
        if token is not None and token.platform == "twitter":
            token.revoked = "revoked"
            if token.pair in self.state.tokens and token.kind == "refresh":
                self.state.tokens[token.pair].revoked = "revoked"
        return Response(200, {"revoked": True})

    def authenticate(self, req):
        token = self.state.tokens.get(req.bearer() or "")
        if token is None or token.platform != "twitter" or token.kind != "access" or self.state.token_problem(token):
            raise unauthorized()
        return token

    # tweets -----------------------------------------------------------------
    def create_tweet(self, req, token):
        state = self.state
        body = req.json
        if not isinstance(body, dict):
            raise invalid_request("The request body must be a JSON object.")
        text = body.get("text")
        media_ids = [str(m) for m in (body.get("media") or {}).get("media_ids") or []]
        if text is None and not media_ids:
            raise invalid_request("Tweet text or media is required.", {"text": []})
        text = text or ""
        if weighted_length(text) > 280:
            raise HttpError(Response(400, {
                "errors": [{"message": "Your Tweet text is too long. The weighted length is "
                                       f"{weighted_length(text)}; the maximum is 280."}],
                "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request"}))
        if len(media_ids) > 4:
            raise invalid_request("A Tweet can carry at most 4 media.", {"media.media_ids": media_ids})
        bad = [m for m in media_ids if m not in state.x_media or state.x_media[m]["user"] != token.subject
               or state.now() - state.x_media[m]["created_at"] > 86400]
        if bad:
            raise invalid_request("Your media IDs are invalid.", {"media.media_ids": bad})
        media = [state.x_media[m] for m in media_ids]
        not_ready = [m["id"] for m in media if self.media_state(m) != "succeeded"]
        if not_ready:  # uploaded but not finalized, still processing, or failed
            raise invalid_request("Your media IDs are invalid.", {"media.media_ids": not_ready})
        if len(media) > 1 and any(m.get("kind") in ("gif", "video") for m in media):
            raise invalid_request("A Tweet can carry up to 4 photos, or 1 animated GIF, or 1 video.",
                                  {"media.media_ids": media_ids})
        if text:
            for tweet in state.tweets.values():
                if (tweet["user"] == token.subject and tweet.get("source_text", tweet["text"]) == text
                        and state.now() - tweet["created_at"] < 86400):
                    raise problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        tweet_id = state.next_id("tweet")
        kept, urls = stored_text(text, tweet_id, media)
        tweet = {"id": tweet_id, "text": kept, "source_text": text, "urls": urls, "user": token.subject,
                 "created_at": state.now(), "media_ids": media_ids,
                 "media_keys": [m.get("media_key", f"3_{m['id']}") for m in media],
                 "reply_to": (body.get("reply") or {}).get("in_reply_to_tweet_id")}
        state.tweets[tweet_id] = tweet
        url = f"https://x.com/{world.X_USERNAME}/status/{tweet_id}"
        state.published.append({"platform": "twitter", "account_id": token.subject, "post_id": tweet_id,
                                "text": text, "stored_text": kept, "media": media_ids, "link": None,
                                "alt_texts": [m.get("alt_text") or "" for m in media],
                                "created_at": tweet["created_at"], "url": url, "published": True})
        return Response(201, {"data": {"id": tweet_id, "text": kept, "edit_history_tweet_ids": [tweet_id]}})

    def delete_tweet(self, req, token):
        tweet_id = req.path.rstrip("/").rsplit("/", 1)[1]
        tweet = self.state.tweets.get(tweet_id)
        if tweet is None or tweet["user"] != token.subject:
            raise problem(404, "Not Found Error", f"Could not find tweet with id: [{tweet_id}].",
                          "https://api.twitter.com/2/problems/resource-not-found")
        tweet["deleted"] = True
        del self.state.tweets[tweet_id]
        return Response(200, {"data": {"deleted": True}})

    def render(self, tweet, fields):
        data = {"id": tweet["id"], "text": tweet["text"], "edit_history_tweet_ids": [tweet["id"]]}
        if "created_at" in fields:
            data["created_at"] = x_time(tweet["created_at"])
        if "author_id" in fields:
            data["author_id"] = tweet["user"]
        if "public_metrics" in fields:
            m = self.state.metrics(tweet["id"], tweet["created_at"])
            data["public_metrics"] = {"retweet_count": m["shares"], "reply_count": m["comments"],
                                      "like_count": m["likes"], "quote_count": m["quotes"],
                                      "bookmark_count": m["bookmarks"], "impression_count": m["impressions"]}
        if "attachments" in fields and tweet["media_ids"]:
            keys = tweet.get("media_keys") or [f"3_{m}" for m in tweet["media_ids"]]
            data["attachments"] = {"media_keys": keys}
        if "entities" in fields and tweet.get("urls"):
            data["entities"] = {"urls": [dict(u) for u in tweet["urls"]]}
        return data

    @staticmethod
    def fields(req):
        raw = ",".join(v for k in ("tweet.fields", "post.fields") for v in req.query_multi.get(k, []))
        return {f.strip() for f in raw.split(",") if f.strip()}

    def lookup(self, req):
        raw = req.query.get("ids", "")
        ids = [i.strip() for i in raw.split(",") if i.strip()]
        if not 1 <= len(ids) <= 100:
            raise invalid_request(f"The number of values in the `ids` query parameter list [{len(ids)}] is not "
                                  "between 1 and 100", {"ids": [raw]})
        bad = [i for i in ids if not i.isdigit()]
        if bad:
            raise invalid_request(f"The `ids` query parameter value [{bad[0]}] is not valid", {"ids": [raw]})
        fields = self.fields(req)
        data = [self.render(self.state.tweets[i], fields) for i in ids if i in self.state.tweets]
        errors = [{"value": i, "detail": f"Could not find tweet with ids: [{i}].", "title": "Not Found Error",
                   "resource_type": "tweet", "parameter": "ids", "resource_id": i,
                   "type": "https://api.twitter.com/2/problems/resource-not-found"}
                  for i in ids if i not in self.state.tweets]
        body = {}
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        return Response(200, body)

    def lookup_one(self, req):
        tweet_id = req.path.rstrip("/").rsplit("/", 1)[1]
        tweet = self.state.tweets.get(tweet_id)
        if tweet is None:
            return Response(200, {"errors": [{
                "value": tweet_id, "detail": f"Could not find tweet with id: [{tweet_id}].",
                "title": "Not Found Error", "resource_type": "tweet", "parameter": "id", "resource_id": tweet_id,
                "type": "https://api.twitter.com/2/problems/resource-not-found"}]})
        return Response(200, {"data": self.render(tweet, self.fields(req))})

    def user_tweets(self, req):
        user_id = req.path.strip("/").split("/")[2]
        q = req.query
        try:
            max_results = int(q.get("max_results", 10))
        except ValueError:
            max_results = 0
        if not 5 <= max_results <= 100:
            raise invalid_request(f"The `max_results` query parameter value [{q.get('max_results')}] is not between "
                                  "5 and 100", {"max_results": [q.get("max_results")]})
        start = parse_x_time(q["start_time"], "start_time") if q.get("start_time") else None
        end = parse_x_time(q["end_time"], "end_time") if q.get("end_time") else None
        since_id = int(q["since_id"]) if q.get("since_id", "").isdigit() else None
        until_id = int(q["until_id"]) if q.get("until_id", "").isdigit() else None
        # Pages newest first: meta.next_token leads to the next (older) page, like the real timeline.
        token = q.get("pagination_token")
        if token is not None:
            below = decode_page_token(token)
            if below is None:
                raise invalid_request(f"The `pagination_token` query parameter value [{token}] is not valid",
                                      {"pagination_token": [token]})
            until_id = below if until_id is None else min(until_id, below)
        tweets = [t for t in self.state.tweets.values() if t["user"] == user_id
                  and (start is None or t["created_at"] >= start) and (end is None or t["created_at"] <= end)
                  and (since_id is None or int(t["id"]) > since_id)
                  and (until_id is None or int(t["id"]) < until_id)]
        tweets.sort(key=lambda t: int(t["id"]), reverse=True)
        more = len(tweets) > max_results
        tweets = tweets[:max_results]
        fields = self.fields(req)
        meta = {"result_count": len(tweets)}
        body = {"meta": meta}
        if tweets:
            body["data"] = [self.render(t, fields) for t in tweets]
            meta.update(newest_id=tweets[0]["id"], oldest_id=tweets[-1]["id"])
            if more:
                meta["next_token"] = page_token(int(tweets[-1]["id"]))
        return Response(200, body)

    def media_metadata(self, req, token):
        """Alt text for an uploaded image or GIF, before a post names it."""
        body = req.json if isinstance(req.json, dict) else {}
        media_id = str(body.get("id") or "")
        media = self.state.x_media.get(media_id)
        if media is None or media["user"] != token.subject:
            raise invalid_request("The media id is not an upload of this user.", {"id": [media_id]})
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if not isinstance(alt, str) or not alt.strip():
            raise invalid_request("metadata.alt_text.text must be a non-empty string.", {"metadata.alt_text": []})
        if len(alt) > ALT_TEXT_MAX:
            raise invalid_request(f"metadata.alt_text.text can be at most {ALT_TEXT_MAX} characters.",
                                  {"metadata.alt_text": [str(len(alt))]})
        if media.get("kind") not in ("image", "gif"):
            raise invalid_request("Alt text can be set for images and GIFs only.", {"id": [media_id]})
        media["alt_text"] = alt
        return Response(200, {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": alt}}}})

    def upload(self, req, token):
        """The one-shot upload: still images only (JPEG, PNG, WEBP, BMP), at most 5 MB."""
        state = self.state
        data = req.files.get("media")
        category = req.form.get("media_category")
        if data is None and "media" in req.form:
            data = req.form["media"].encode("latin-1", "replace")
        if data is None and isinstance(req.json, dict) and req.json.get("media"):
            try:
                data = base64.b64decode(req.json["media"])
            except (binascii.Error, ValueError):
                raise invalid_request("media must be base64 encoded") from None
            category = req.json.get("media_category", category)
        if not data:
            raise invalid_request("The `media` field is required and must contain the file bytes.", {"media": []})
        category = category or "tweet_image"
        if category not in ("tweet_image", "dm_image", "subtitles"):
            raise invalid_request(f"media_category {category} is not valid for this upload; GIFs and videos "
                                  "use the chunked upload (/2/media/upload/initialize)", {"media_category": [category]})
        media_type = next((t for magic, t in ONE_SHOT_TYPES.items() if data.startswith(magic)), None)
        if category != "subtitles" and media_type is None:
            what = "a GIF" if data.startswith(b"GIF8") else "not a supported image"
            raise invalid_request(f"The media is {what}: this upload takes JPEG, PNG, WEBP or BMP images; GIFs and "
                                  "videos use the chunked upload (/2/media/upload/initialize).")
        if len(data) > x_config(state, "image_max_bytes"):
            raise invalid_request("Images can be at most 5 MB.")
        media_id = state.next_id("x_media")
        state.x_media[media_id] = {"id": media_id, "user": token.subject, "created_at": state.now(),
                                   "size": len(data), "category": category, "kind": "image",
                                   "media_type": media_type, "media_key": f"3_{media_id}", "finalized": True,
                                   "ready_at": None, "failed": False}
        return Response(200, {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(data),
                                       "expires_after_secs": 86400,
                                       "image": {"image_type": media_type, "w": 640, "h": 800}}})

    # chunked media upload -----------------------------------------------------
    def media_state(self, media):
        if "segments" in media and not media.get("finalized"):
            return "uploading"
        if media.get("failed"):
            return "failed"
        if media.get("ready_at") is not None and self.state.now() < media["ready_at"]:
            return "in_progress"
        return "succeeded"

    def own_media(self, media_id, token):
        media = self.state.x_media.get(str(media_id or ""))
        if media is None or media["user"] != token.subject or self.state.now() - media["created_at"] > 86400:
            raise invalid_request(f"The media_id {media_id} is not valid.", {"media_id": [media_id]})
        return media

    def upload_initialize(self, req, token):
        state = self.state
        body = req.json if isinstance(req.json, dict) else dict(req.form)
        media_type, category = body.get("media_type"), body.get("media_category")
        try:
            total = int(body.get("total_bytes"))
        except (TypeError, ValueError):
            raise invalid_request("total_bytes is required and must be a number.", {"total_bytes": []}) from None
        kind = CHUNKED_TYPES.get(media_type)
        if kind is None:
            raise invalid_request(f"media_type {media_type} is not supported.", {"media_type": [media_type]})
        if category not in CATEGORY_KINDS:
            raise invalid_request(f"media_category {category} is not valid.", {"media_category": [category]})
        if CATEGORY_KINDS[category] != kind:
            raise invalid_request(f"media_category {category} does not fit media_type {media_type} "
                                  "(GIFs need tweet_gif, videos tweet_video).", {"media_category": [category]})
        limit = x_config(state, f"{kind}_max_bytes")
        if not 0 < total <= limit:
            raise invalid_request(f"total_bytes {total} is over the {kind} limit of {limit} bytes.",
                                  {"total_bytes": [str(total)]})
        media_id = state.next_id("x_media")
        key = f"{MEDIA_KEY_PREFIX[kind]}_{media_id}"
        state.x_media[media_id] = {"id": media_id, "user": token.subject, "created_at": state.now(),
                                   "size": 0, "total_bytes": total, "category": category, "kind": kind,
                                   "media_type": media_type, "media_key": key, "segments": {}, "head": b"",
                                   "finalized": False, "ready_at": None, "failed": False}
        return Response(200, {"data": {"id": media_id, "media_key": key, "expires_after_secs": 86400}})

    def upload_append(self, req, token):
        media = self.own_media(req.path.strip("/").split("/")[3], token)
        if media.get("finalized") or "segments" not in media:
            raise invalid_request("This upload is already finalized.", {"media_id": [media["id"]]})
        data, index = req.files.get("media"), req.form.get("segment_index")
        if isinstance(req.json, dict):
            try:
                data = base64.b64decode(req.json.get("media") or "", validate=True)
            except (binascii.Error, ValueError):
                raise invalid_request("media must be base64 encoded") from None
            index = req.json.get("segment_index")
        try:
            index = int(index)
        except (TypeError, ValueError):
            raise invalid_request("segment_index is required.", {"segment_index": []}) from None
        if not 0 <= index <= 999:
            raise invalid_request("segment_index must be between 0 and 999.", {"segment_index": [str(index)]})
        if not data:
            raise invalid_request("The `media` field is required and must contain the chunk.", {"media": []})
        if len(data) > x_config(self.state, "chunk_max_bytes"):
            raise invalid_request("A chunk can be at most 5 MB.", {"media": []})
        media["segments"][index] = len(data)
        if index == 0:
            media["head"] = bytes(data[:16])
        if sum(media["segments"].values()) > media["total_bytes"]:
            raise invalid_request("The chunks are larger than total_bytes.", {"media": []})
        return Response(200, {"data": {"expires_at": int(self.state.real_epoch(media["created_at"] + 86400))}})

    def upload_finalize(self, req, token):
        state = self.state
        media = self.own_media(req.path.strip("/").split("/")[3], token)
        if media.get("finalized") or "segments" not in media:
            raise invalid_request("This upload is already finalized.", {"media_id": [media["id"]]})
        size = sum(media["segments"].values())
        if sorted(media["segments"]) != list(range(len(media["segments"]))) or size != media["total_bytes"]:
            raise invalid_request(f"File size mismatch: received {size} bytes, total_bytes was "
                                  f"{media['total_bytes']}.", {"media_id": [media["id"]]})
        head = media["head"]
        looks = {"gif": head.startswith(b"GIF8"), "video": head[4:8] == b"ftyp",
                 "image": any(head.startswith(m) for m in ONE_SHOT_TYPES)}[media["kind"]]
        if not looks:
            raise invalid_request(f"The uploaded bytes are not {media['media_type']}.", {"media_id": [media["id"]]})
        media.update(finalized=True, size=size)
        data = {"id": media["id"], "media_key": media["media_key"], "size": size, "expires_after_secs": 86400}
        if media["kind"] in ("gif", "video"):
            seconds = float(x_config(state, "processing_seconds"))
            media["ready_at"] = state.now() + seconds
            media["failed"] = bool(x_config(state, "processing_fails"))
            data["processing_info"] = {"state": "pending", "check_after_secs": max(1, math.ceil(seconds))}
        return Response(200, {"data": data})

    def upload_status(self, req, token):
        q = req.query
        if q.get("command") != "STATUS":
            raise invalid_request("command must be STATUS.", {"command": [q.get("command")]})
        media = self.own_media(q.get("media_id"), token)
        data = {"id": media["id"], "media_key": media["media_key"],
                "expires_after_secs": max(0, int(media["created_at"] + 86400 - self.state.now()))}
        current = self.media_state(media)
        if current == "in_progress":
            remaining = media["ready_at"] - self.state.now()
            data["processing_info"] = {"state": "in_progress", "check_after_secs": max(1, math.ceil(remaining)),
                                       "progress_percent": 50}
        elif current == "failed":
            data["processing_info"] = {"state": "failed", "progress_percent": 100, "error": {
                "code": 1, "name": "InvalidMedia", "message": "Unsupported media format"}}
        elif current == "succeeded" and media["kind"] in ("gif", "video"):
            data["processing_info"] = {"state": "succeeded", "progress_percent": 100}
        elif current == "uploading":
            raise invalid_request("This upload is not finalized.", {"media_id": [media["id"]]})
        return Response(200, {"data": data})


def _scope_order(scope):
    order = ["tweet.read", "tweet.write", "users.read", "media.write", "offline.access"]
    return order.index(scope) if scope in order else len(order)
