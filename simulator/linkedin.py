"""LinkedIn: OAuth 2.0 (3-legged), organization ACLs, Images, Videos and Posts APIs, share statistics."""

import datetime as dt
import hashlib
import re
import secrets
import urllib.parse

from . import world
from .consent import consent_decision, consent_page
from .protocol import HttpError, Response, error_page, redirect

DAY = 24 * 3600
ORG_URN = "urn:li:organization:"
ADMIN_SCOPES = ("rw_organization_admin", "r_organization_admin")


# Posts API: `altText` of an image, at most 4,086 characters.
ALT_TEXT_MAX = 4086


def li_error(status, message, **extra):
    return HttpError(Response(status, {"status": status, **extra, "message": message}))


def oauth_error(description, error="invalid_request", status=400):
    return HttpError(Response(status, {"error": error, "error_description": description}))


def input_error(code, description, field=None):
    detail = {"code": code, "description": description}
    if field:
        detail["input"] = {"inputPath": {"fieldPath": field}}
    return HttpError(Response(422, {"status": 422, "message": description,
                                    "errorDetails": {"inputErrors": [detail]}}))


def duplicate_error(earlier, *, message_only=False):
    """422 as LinkedIn sends it: the earlier share named in the message (Arisamiga/Linkedin-RSS#5)."""
    body = {"errorDetailType": "com.linkedin.common.error.BadRequest", "status": 422,
            "message": "com.linkedin.content.common.exception.BadRequestResponseException: "
                       f"Content is a duplicate of {earlier}"}
    if not message_only:
        body["errorDetails"] = {"inputErrors": [{"description": "Duplicate post is detected", "input": {},
                                                 "code": "DUPLICATE_POST"}]}
    return HttpError(Response(422, body))


def access_denied(what):
    return li_error(403, f"Not enough permissions to access: {what}", serviceErrorCode=100, code="ACCESS_DENIED")


def decode(value):
    """Rest.li 2.0 URL-encodes URNs inside query values; accept encoded and plain forms."""
    previous = None
    while value != previous and "%" in value:
        previous, value = value, urllib.parse.unquote(value)
    return value


def list_values(raw_query, name):
    """Values of a Rest.li `name=List(a,b)` query parameter (also `name[0]=a` and repeated `name=a`)."""
    values = []
    for key, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        key = decode(key)
        if key == name or re.fullmatch(re.escape(name) + r"\[\d+\]", key):
            value = value.strip()
            if value.startswith("List(") and value.endswith(")"):
                values += [decode(v) for v in value[5:-1].split(",") if v]
            else:
                values.append(decode(value))
    return values


def fault_error(kind, options):
    if kind == "server_error":
        status = int(options.get("status", 500))
        return li_error(status, {500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Server Error"))
    if kind == "rate_limit":
        return li_error(429, "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.")
    if kind == "revoked_token":
        return li_error(401, "The token used in the request has been revoked by the user", serviceErrorCode=65601,
                        code="REVOKED_ACCESS_TOKEN")
    if kind == "expired_token":
        return li_error(401, "The token used in the request has expired", serviceErrorCode=65600,
                        code="EXPIRED_ACCESS_TOKEN")
    if kind == "duplicate":
        return duplicate_error(options.get("earlier", "urn:li:share:7100000000000000000"),
                               message_only=bool(options.get("message_only")))
    if kind == "permission":
        return access_denied("partnerApiPostsExternal.CREATE.20250101")
    raise ValueError(kind)


class LinkedIn:
    def __init__(self, state):
        self.state = state

    def handle(self, req):
        path, method = req.path.rstrip("/"), req.method
        if path == "/oauth/v2/authorization":
            return self.authorize(req) if method == "GET" else self.authorize_decision(req)
        if (method, path) == ("POST", "/oauth/v2/accessToken"):
            return self.access_token(req)
        if (method, path) == ("POST", "/oauth/v2/revoke"):
            return self.revoke(req)
        if (method, path) == ("POST", "/oauth/v2/introspectToken"):
            return self.introspect(req)
        if path.startswith("/_sim/linkedin-upload/video/"):
            return self.upload_video_part(req, *path[len("/_sim/linkedin-upload/video/"):].split("/", 1))
        if path.startswith("/_sim/linkedin-upload/"):
            return self.upload(req, path.rsplit("/", 1)[1])
        if path.startswith("/rest/"):
            token = self.authenticate(req)
            self.check_headers(req)
            return self.rest(req, path[len("/rest"):], method, token)
        raise li_error(404, f"No virtual resource found for {path}")

    # OAuth ------------------------------------------------------------------
    def authorize(self, req):
        q = req.query
        if q.get("client_id") not in world.LINKEDIN_APPS:
            return error_page("The application could not be found (invalid client_id).")
        if not q.get("redirect_uri"):
            return error_page("The redirect_uri is missing.")
        if q.get("response_type") != "code":
            return error_page("response_type must be code.")
        scopes = [s for s in re.split(r"[\s,]+", q.get("scope", "")) if s]
        if not scopes:
            return error_page("scope is required.")
        return consent_page(self.state, req, platform="linkedin", user_name=world.LINKEDIN_MEMBER_NAME,
                            app_name="SocialCRM (simulated app)", scopes=scopes, checkboxes=False,
                            callback={"client_id": q["client_id"], "redirect_uri": q["redirect_uri"],
                                      "state": q.get("state")})

    def authorize_decision(self, req):
        result, problem_page = consent_decision(self.state, req, "linkedin", checkboxes=False)
        if problem_page:
            return problem_page
        consent, allowed, granted = result
        extra = {"state": consent["state"]} if consent["state"] is not None else {}
        if not allowed:
            return redirect(consent["redirect_uri"], {"error": "user_cancelled_authorize",
                                                      "error_description": "The user cancelled the authorization",
                                                      **extra})
        code = self.state.new_code("linkedin", consent["client_id"], consent["redirect_uri"], granted,
                                   world.LINKEDIN_CODE_TTL)
        return redirect(consent["redirect_uri"], {"code": code.value, **extra})

    def check_client(self, form, req):
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = req.basic()
        if basic and not client_id:
            client_id, secret = basic
        app = world.LINKEDIN_APPS.get(client_id)
        if app is None or secret != app["secret"]:
            raise oauth_error("Client authentication failed", "invalid_client", 401)
        return client_id

    def access_token(self, req):
        state, form = self.state, req.form
        client_id = self.check_client(form, req)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = state.codes.get(form.get("code", ""))
            if (code is None or code.platform != "linkedin" or code.used or state.now() >= code.expires_at
                    or code.redirect_uri != form.get("redirect_uri") or code.client_id != client_id):
                raise oauth_error("Unable to retrieve access token: appid/redirect uri/code verifier does not match "
                                  "authorization code. Or authorization code expired. Or external member binding "
                                  "exists")
            code.used = True
            if not state.li_config["programmatic_refresh"].get(client_id):
                # Most apps: a 60-day access token and nothing to renew it with; the member reconnects.
                access = state.issue("linkedin", "access", world.LINKEDIN_MEMBER_URN, code.scopes,
                                     world.LINKEDIN_ACCESS_TOKEN_TTL, client_id)
                return Response(200, {"access_token": access.value, "expires_in": world.LINKEDIN_ACCESS_TOKEN_TTL,
                                      "scope": ",".join(code.scopes)})
            refresh = state.issue("linkedin", "refresh", world.LINKEDIN_MEMBER_URN, code.scopes,
                                  world.LINKEDIN_REFRESH_TOKEN_TTL, client_id)
            refresh.scope_order = list(code.scopes)
        elif grant == "refresh_token":
            refresh = state.tokens.get(form.get("refresh_token", ""))
            if (refresh is None or refresh.platform != "linkedin" or refresh.kind != "refresh"
                    or refresh.client_id != client_id or state.token_problem(refresh)):
                raise oauth_error("The provided authorization grant or refresh token is invalid, expired or revoked.")
        else:
            raise oauth_error("A required parameter \"grant_type\" is missing")
        access = state.issue("linkedin", "access", world.LINKEDIN_MEMBER_URN, refresh.scopes,
                             world.LINKEDIN_ACCESS_TOKEN_TTL, client_id, pair=refresh.value)
        return Response(200, {
            "access_token": access.value, "expires_in": world.LINKEDIN_ACCESS_TOKEN_TTL,
            "refresh_token": refresh.value,
            "refresh_token_expires_in": round(refresh.expires_at - state.now()),
            "scope": ",".join(refresh.scope_order or sorted(refresh.scopes))})

    def revoke(self, req):
        self.check_client(req.form, req)
        token = self.state.tokens.get(req.form.get("token", ""))
        if token is not None and token.platform == "linkedin":
            token.revoked = "revoked"
        return Response(200, None)

    def introspect(self, req):
        self.check_client(req.form, req)
        state = self.state
        token = state.tokens.get(req.form.get("token", ""))
        if token is None or token.platform != "linkedin":
            return Response(200, {"active": False})
        problem = state.token_problem(token)
        return Response(200, {
            "active": problem is None, "client_id": token.client_id, "auth_type": "3L",
            "status": {"revoked": "revoked", "expired": "expired"}.get(problem, "active"),
            "expires_at": int(token.expires_at), "scope": ",".join(sorted(token.scopes))})

    # REST plumbing ------------------------------------------------------------
    def authenticate(self, req):
        token = self.state.tokens.get(req.bearer() or "")
        problem = self.state.token_problem(token)
        if token is None or token.platform != "linkedin" or token.kind != "access" or problem == "invalid":
            raise li_error(401, "Invalid access token", serviceErrorCode=65600, code="INVALID_ACCESS_TOKEN")
        if problem == "revoked":
            raise li_error(401, "The token used in the request has been revoked by the user",
                           serviceErrorCode=65601, code="REVOKED_ACCESS_TOKEN")
        if problem == "expired":
            raise li_error(401, "The token used in the request has expired", serviceErrorCode=65600,
                           code="EXPIRED_ACCESS_TOKEN")
        return token

    def check_headers(self, req):
        version = (req.headers.get("LinkedIn-Version") or "").strip()
        if not version:
            raise li_error(400, "A version must be present. Please specify a version by adding the LinkedIn-Version "
                                "header.", code="VERSION_MISSING")
        match = re.fullmatch(r"(\d{4})(\d{2})(\.\d{2})?", version)
        now = dt.datetime.fromtimestamp(self.state.now(), dt.UTC)
        if match:
            year, month = int(match[1]), int(match[2])
            age = (now.year - year) * 12 + now.month - month
        if not match or not 1 <= month <= 12 or age > 12 or age < 0:
            raise li_error(426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION")
        if (req.headers.get("X-Restli-Protocol-Version") or "").strip() != "2.0.0":
            raise li_error(400, "This endpoint expects the header X-Restli-Protocol-Version: 2.0.0 (Rest.li 2.0 "
                                "encoding).", code="PROTOCOL_VERSION_MISSING")

    def require(self, token, scopes, what):
        if not any(s in token.scopes for s in scopes):
            raise access_denied(what)

    def administered(self, urn):
        """An organization the member may post and upload media as (its role allows it)."""
        org = world.LINKEDIN_ORGANIZATIONS.get(urn[len(ORG_URN):]) if urn.startswith(ORG_URN) else None
        return org is not None and org["role"] in world.LINKEDIN_POSTING_ROLES

    def rest(self, req, path, method, token):
        if (method, path) == ("GET", "/organizationAcls"):
            return self.acls(req, token)
        if method == "GET" and path.startswith("/organizations"):
            return self.organizations(req, path)
        if (method, path) == ("POST", "/images") and req.query.get("action") == "initializeUpload":
            return self.initialize_upload(req, token)
        if method == "GET" and path.startswith("/images/"):
            return self.image(decode(path[len("/images/"):]))
        if (method, path) == ("POST", "/videos") and req.query.get("action") == "initializeUpload":
            return self.initialize_video_upload(req, token)
        if (method, path) == ("POST", "/videos") and req.query.get("action") == "finalizeUpload":
            return self.finalize_video_upload(req, token)
        if method == "GET" and path.startswith("/videos/"):
            return self.video(decode(path[len("/videos/"):]))
        if (method, path) == ("POST", "/posts"):
            return self.create_post(req, token)
        if (method, path) == ("GET", "/posts"):
            return self.posts_by_author(req, token)
        if method == "GET" and path.startswith("/posts/"):
            post = self.state.li_posts.get(decode(path[len("/posts/"):]))
            if post is None:
                raise li_error(404, "Post not found")
            return Response(200, self.render_post(post))
        if (method, path) == ("GET", "/organizationalEntityShareStatistics"):
            return self.share_statistics(req, token)
        if method == "GET" and path.startswith("/socialMetadata/"):
            return self.social_metadata(decode(path[len("/socialMetadata/"):]))
        raise li_error(404, f"No virtual resource found for /rest{path}")

    # organizations --------------------------------------------------------------
    def acls(self, req, token):
        self.require(token, ADMIN_SCOPES, "organizationAclsByRoleAssignee.FINDER-roleAssignee")
        q = req.query
        if q.get("q") != "roleAssignee":
            raise li_error(400, "Invalid query parameters passed to request")
        # Without `role` every role the member holds is listed; with it, only that role.
        role = q.get("role")
        if q.get("state", "APPROVED") != "APPROVED":
            return Response(200, {"elements": [], "paging": {"start": 0, "count": 10, "links": [], "total": 0}})
        decorate = "organization~" in q.get("projection", "")
        elements = []
        for org_id, org in world.LINKEDIN_ORGANIZATIONS.items():
            if role and org["role"] != role:
                continue
            element = {"organization": ORG_URN + org_id, "roleAssignee": token.subject, "role": org["role"],
                       "state": "APPROVED"}
            if decorate:
                element["organization~"] = {"localizedName": org["localizedName"], "vanityName": org["vanityName"]}
            elements.append(element)
        return Response(200, {"elements": elements,
                              "paging": {"start": 0, "count": 10, "links": [], "total": len(elements)}})

    def org_body(self, org_id):
        org = world.LINKEDIN_ORGANIZATIONS[org_id]
        return {"id": int(org_id), "localizedName": org["localizedName"], "vanityName": org["vanityName"],
                "name": {"localized": {"en_US": org["localizedName"]},
                         "preferredLocale": {"country": "US", "language": "en"}},
                "$URN": ORG_URN + org_id}

    def organizations(self, req, path):
        if path == "/organizations":
            ids = list_values(req.raw_query, "ids")
            results = {i: self.org_body(i) for i in ids if i in world.LINKEDIN_ORGANIZATIONS}
            errors = {i: {"status": 404, "message": "Not Found"} for i in ids if i not in results}
            return Response(200, {"results": results, "statuses": {i: 200 for i in results}, "errors": errors})
        org_id = decode(path[len("/organizations/"):]).removeprefix(ORG_URN)
        if org_id not in world.LINKEDIN_ORGANIZATIONS:
            raise li_error(404, f"Organization {org_id} not found")
        return Response(200, self.org_body(org_id))

    # images -----------------------------------------------------------------------
    def initialize_upload(self, req, token):
        self.require(token, ("w_organization_social", "w_member_social"), "images.ACTION-initializeUpload")
        body = req.json if isinstance(req.json, dict) else {}
        owner = (body.get("initializeUploadRequest") or {}).get("owner", "")
        if not (self.administered(owner) or owner == token.subject):
            raise access_denied(f"images.ACTION-initializeUpload for owner {owner or '(missing)'}")
        image_id = "D4E10sim" + self.state.next_id("li_image")
        urn = f"urn:li:image:{image_id}"
        expires = self.state.now() + 3600
        self.state.li_images[urn] = {"id": urn, "owner": owner, "status": "WAITING_UPLOAD", "expires_at": expires,
                                     "upload_id": image_id, "size": 0}
        return Response(200, {"value": {"uploadUrlExpiresAt": int(expires * 1000),
                                        "uploadUrl": f"{self.upload_base(req)}/_sim/linkedin-upload/{image_id}",
                                        "image": urn}})

    def upload(self, req, image_id):
        token = self.authenticate(req)
        image = self.state.li_images.get(f"urn:li:image:{image_id}")
        if req.method not in ("PUT", "POST") or image is None:
            raise li_error(404, "Upload not found")
        if image["status"] != "WAITING_UPLOAD" or self.state.now() >= image["expires_at"]:
            raise li_error(400, "The upload URL has expired")
        if not req.body:
            raise li_error(400, "Empty upload")
        del token
        self.start_processing(image, ok=req.body.startswith((b"\xff\xd8", b"\x89PNG", b"GIF8")))
        image["size"] = len(req.body)
        return Response(201, None)

    def start_processing(self, item, *, ok=True):
        """LinkedIn processes media asynchronously: PROCESSING for a while, then AVAILABLE (or failed)."""
        config = self.state.li_config
        item["status"] = "PROCESSING"
        item["ready_at"] = self.state.now() + float(config["processing_seconds"])
        item["outcome"] = config["processing_outcome"] if ok else "PROCESSING_FAILED"

    def status_of(self, item):
        if item["status"] == "PROCESSING" and self.state.now() >= item["ready_at"]:
            item["status"] = item["outcome"]
        return item["status"]

    def upload_base(self, req):
        # Real upload URLs are on www.linkedin.com, not api.linkedin.com; a test may name another base.
        return self.state.li_config.get("upload_base_url") or req.base_url

    def image(self, urn):
        image = self.state.li_images.get(urn)
        if image is None:
            raise li_error(404, "Image not found")
        return Response(200, {"id": urn, "status": self.status_of(image), "owner": image["owner"],
                              "downloadUrl": f"https://media.licdn.com/sim/{urn}"})

    # videos -----------------------------------------------------------------------
    def initialize_video_upload(self, req, token):
        self.require(token, ("w_organization_social", "w_member_social"), "videos.ACTION-initializeUpload")
        body = req.json if isinstance(req.json, dict) else {}
        request = body.get("initializeUploadRequest") or {}
        owner, size = request.get("owner", ""), request.get("fileSizeBytes")
        if not (self.administered(owner) or owner == token.subject):
            raise li_error(403, "Accessing this video resource is forbidden. Please check your permissions for "
                                "this resource")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise input_error("INVALID_VALUE", "/initializeUploadRequest/fileSizeBytes :: must be a positive "
                                               "number of bytes", "/initializeUploadRequest/fileSizeBytes")
        video_id = "D5sim" + self.state.next_id("li_video")
        urn = f"urn:li:video:{video_id}"
        part_size = int(self.state.li_config["video_part_size"])
        expires = self.state.now() + 3600
        parts, instructions = [], []
        for index, first in enumerate(range(0, size, part_size)):
            last = min(first + part_size, size) - 1
            signature = secrets.token_urlsafe(12)
            parts.append({"first": first, "last": last, "signature": signature, "etag": None, "data": b""})
            instructions.append({"uploadUrl": f"{self.upload_base(req)}/_sim/linkedin-upload/video/{video_id}/{index}"
                                              f"?sig={signature}", "firstByte": first, "lastByte": last})
        upload_token = secrets.token_urlsafe(16) if len(parts) > 1 else ""
        self.state.li_videos[urn] = {"id": urn, "owner": owner, "status": "WAITING_UPLOAD", "size": size,
                                     "expires_at": expires, "parts": parts, "upload_token": upload_token}
        return Response(200, {"value": {"uploadUrlsExpireAt": int(expires * 1000), "video": urn,
                                        "uploadInstructions": instructions, "uploadToken": upload_token}})

    def upload_video_part(self, req, video_id, index):
        video = self.state.li_videos.get(f"urn:li:video:{video_id}")
        part = None
        if video is not None and index.isdigit() and int(index) < len(video["parts"]):
            part = video["parts"][int(index)]
        # The upload URL is pre-signed: the signature in it is what authorises the bytes.
        if req.method != "PUT" or part is None or req.query.get("sig") != part["signature"]:
            raise li_error(404, "Upload not found")
        if video["status"] != "WAITING_UPLOAD" or self.state.now() >= video["expires_at"]:
            raise li_error(400, "The upload URL has expired")
        expected = part["last"] - part["first"] + 1
        if len(req.body) != expected:
            raise li_error(400, f"This part must carry bytes {part['first']}-{part['last']} ({expected} bytes), "
                                f"not {len(req.body)} bytes")
        part["data"] = req.body
        part["etag"] = "/ambry-video/signedId/" + hashlib.sha256(req.body + part["signature"].encode()).hexdigest()
        return Response(200, None, {"ETag": part["etag"]})

    def finalize_video_upload(self, req, token):
        self.require(token, ("w_organization_social", "w_member_social"), "videos.ACTION-finalizeUpload")
        body = req.json if isinstance(req.json, dict) else {}
        request = body.get("finalizeUploadRequest") or {}
        video = self.state.li_videos.get(request.get("video", ""))
        if video is None:
            raise li_error(404, "Video not found")
        if not (self.administered(video["owner"]) or video["owner"] == token.subject):
            raise li_error(403, "Accessing this video resource is forbidden. Please check your permissions for "
                                "this resource")
        if video["status"] != "WAITING_UPLOAD":
            raise li_error(400, f"The upload of {video['id']} is already finalized")
        if request.get("uploadToken", None) != video["upload_token"]:
            raise li_error(400, "The uploadToken does not match the one given at initializeUpload")
        etags = [p["etag"] for p in video["parts"]]
        if None in etags:
            raise li_error(400, f"Part {etags.index(None)} of {video['id']} was never uploaded")
        if request.get("uploadedPartIds") != etags:
            raise li_error(400, "uploadedPartIds must list the ETag of every part, in the order of uploadInstructions")
        data = b"".join(p["data"] for p in video["parts"])
        for part in video["parts"]:
            part["data"] = b""
        self.start_processing(video, ok=data[4:8] == b"ftyp")  # MP4: an ISO base media file
        return Response(200, None)

    def video(self, urn):
        video = self.state.li_videos.get(urn)
        if video is None:
            raise li_error(404, "Video not found")
        return Response(200, {"id": urn, "status": self.status_of(video), "owner": video["owner"],
                              "downloadUrl": f"https://media.licdn.com/sim/{urn}"})

    # posts -----------------------------------------------------------------------
    def create_post(self, req, token):
        state = self.state
        body = req.json
        if not isinstance(body, dict):
            raise li_error(400, "Request body must be a JSON object")
        for field in ("author", "commentary", "visibility", "distribution", "lifecycleState"):
            if field not in body:
                raise input_error("MISSING_FIELD", f"/{field} :: field is required but not found and has no default "
                                                   "value", f"/{field}")
        author, commentary = body["author"], body["commentary"]
        if author.startswith("urn:li:person:"):
            if author != token.subject:
                raise access_denied(f"posts.CREATE for author {author}")
            self.require(token, ("w_member_social",), "partnerApiPostsExternal.CREATE.20250101")
        else:
            self.require(token, ("w_organization_social",), "partnerApiPostsExternal.CREATE.20250101")
            if not self.administered(author):
                raise access_denied(f"posts.CREATE as {author}: the member is not an administrator of it")
        if not isinstance(commentary, str):
            raise input_error("INVALID_VALUE", "/commentary :: must be a string", "/commentary")
        if len(commentary) > 3000:
            raise input_error("INVALID_FIELD_LENGTH", f"/commentary :: length {len(commentary)} exceeds the maximum "
                                                      "of 3000 characters", "/commentary")
        if body["visibility"] not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"):
            raise input_error("INVALID_VALUE", f"/visibility :: {body['visibility']} is not a valid value",
                              "/visibility")
        if body["lifecycleState"] not in ("PUBLISHED", "DRAFT"):
            raise input_error("INVALID_VALUE", f"/lifecycleState :: {body['lifecycleState']} is not a valid value",
                              "/lifecycleState")
        distribution = body["distribution"]
        if not isinstance(distribution, dict) or distribution.get("feedDistribution") not in ("MAIN_FEED", "NONE"):
            raise input_error("INVALID_VALUE", "/distribution/feedDistribution :: must be MAIN_FEED or NONE",
                              "/distribution/feedDistribution")
        content = body.get("content") or {}
        media_urn = (content.get("media") or {}).get("id")
        multi = [i.get("id") for i in (content.get("multiImage") or {}).get("images") or [] if isinstance(i, dict)]
        article = content.get("article")
        described = [content.get("media") or {}] if media_urn else [
            i for i in (content.get("multiImage") or {}).get("images") or [] if isinstance(i, dict)]
        for index, item in enumerate(described):
            alt = item.get("altText")
            where = "/content/media/altText" if media_urn else f"/content/multiImage/images/{index}/altText"
            if alt is not None and (not isinstance(alt, str) or len(alt) > ALT_TEXT_MAX):
                raise input_error("INVALID_FIELD_LENGTH", f"{where} :: alternate text is limited to "
                                                          f"{ALT_TEXT_MAX} characters", where)
            if alt is not None and not str(item.get("id", "")).startswith("urn:li:image:"):
                raise input_error("INVALID_VALUE", f"{where} :: alternate text is for images only", where)
        if media_urn:
            self.check_media(media_urn, author, "/content/media/id")
        if "multiImage" in content:
            if not 2 <= len(multi) <= 20:
                raise input_error("INVALID_VALUE", "/content/multiImage/images :: a multi-image post has 2 to 20 "
                                                   "images", "/content/multiImage/images")
            for index, urn in enumerate(multi):
                if not str(urn).startswith("urn:li:image:"):
                    raise input_error("INVALID_VALUE", f"/content/multiImage/images/{index}/id :: only images",
                                      f"/content/multiImage/images/{index}/id")
                self.check_media(urn, author, f"/content/multiImage/images/{index}/id")
        if article is not None:
            source = (article or {}).get("source", "")
            if not re.match(r"https?://", source or ""):
                raise input_error("INVALID_VALUE", "/content/article/source :: must be an http(s) URL",
                                  "/content/article/source")
        for post in state.li_posts.values():
            if post["author"] == author and post["commentary"] == commentary and state.now() - post["created_at"] < DAY:
                raise duplicate_error(post["id"])
        urn = "urn:li:share:" + state.next_id("li_share")
        post = {"id": urn, "author": author, "commentary": commentary, "created_at": state.now(),
                "visibility": body["visibility"], "distribution": distribution,
                "lifecycleState": body["lifecycleState"], "content": content or None,
                "isReshareDisabledByAuthor": bool(body.get("isReshareDisabledByAuthor", False))}
        state.li_posts[urn] = post
        state.published.append({
            "platform": "linkedin", "account_id": author, "post_id": urn, "text": commentary,
            "media": [media_urn] if media_urn else multi, "link": (article or {}).get("source"),
            "alt_texts": [item.get("altText") or "" for item in described],
            "created_at": post["created_at"], "url": f"https://www.linkedin.com/feed/update/{urn}/",
            "published": body["lifecycleState"] == "PUBLISHED"})
        return Response(201, None, {"x-restli-id": urn, "x-linkedin-id": urn})

    def check_media(self, urn, author, field):
        """A post may only use media that finished processing, owned by its author."""
        store = self.state.li_videos if str(urn).startswith("urn:li:video:") else self.state.li_images
        item = store.get(urn)
        if item is None or item["owner"] != author:
            raise input_error("INVALID_VALUE", f"{field} :: {urn} is not an uploaded image or video owned by {author}",
                              field)
        status = self.status_of(item)
        if status != "AVAILABLE":
            # Postiz: posting before AVAILABLE is refused with a processing error (body shape unconfirmed).
            raise input_error("INVALID_VALUE", f"{field} :: {urn} cannot be used yet: its status is {status}",
                              field)

    def render_post(self, post):
        created = int(post["created_at"] * 1000)
        body = {"id": post["id"], "author": post["author"], "commentary": post["commentary"], "createdAt": created,
                "publishedAt": created, "lastModifiedAt": created, "lifecycleState": post["lifecycleState"],
                "visibility": post["visibility"], "distribution": post["distribution"],
                "isReshareDisabledByAuthor": post["isReshareDisabledByAuthor"]}
        if post["content"]:
            body["content"] = post["content"]
        return body

    def posts_by_author(self, req, token):
        self.require(token, ("r_organization_social", "r_member_social"), "partnerApiPostsExternal.FINDER-author")
        q = req.query
        if q.get("q") != "author" or not q.get("author"):
            raise li_error(400, "The finder q=author needs an author parameter")
        author = decode(q["author"])
        if not (self.administered(author) or author == token.subject):
            raise access_denied(f"partnerApiPostsExternal.FINDER-author for {author}")
        start, count = int(q.get("start", 0) or 0), min(100, int(q.get("count", 10) or 10))
        posts = sorted((p for p in self.state.li_posts.values() if p["author"] == author),
                       key=lambda p: (p["created_at"], p["id"]), reverse=True)
        page = posts[start:start + count]
        return Response(200, {"elements": [self.render_post(p) for p in page],
                              "paging": {"start": start, "count": count, "total": len(posts), "links": []}})

    def stats(self, post):
        m = self.state.metrics(post["id"], post["created_at"])
        return m

    def share_statistics(self, req, token):
        self.require(token, ADMIN_SCOPES, "organizationalEntityShareStatistics.FINDER-organizationalEntity")
        q = req.query
        entity = decode(q.get("organizationalEntity", ""))
        if q.get("q") != "organizationalEntity" or not entity:
            raise li_error(400, "The finder q=organizationalEntity needs an organizationalEntity parameter")
        if not self.administered(entity):
            raise access_denied(f"organizationalEntityShareStatistics for {entity}")
        wanted = list_values(req.raw_query, "shares") + list_values(req.raw_query, "ugcPosts")
        posts = [self.state.li_posts[u] for u in wanted
                 if u in self.state.li_posts and self.state.li_posts[u]["author"] == entity]
        elements = []
        groups = [(p["id"], [p]) for p in posts] if wanted else [
            (None, [p for p in self.state.li_posts.values() if p["author"] == entity])]
        for share, group in groups:
            totals = {k: 0 for k in ("impressions", "reach", "clicks", "likes", "comments", "shares")}
            for post in group:
                m = self.stats(post)
                for key in totals:
                    totals[key] += m[key]
            interactions = totals["clicks"] + totals["likes"] + totals["comments"] + totals["shares"]
            element = {"organizationalEntity": entity, "totalShareStatistics": {
                "impressionCount": totals["impressions"], "uniqueImpressionsCount": totals["reach"],
                "clickCount": totals["clicks"], "likeCount": totals["likes"], "commentCount": totals["comments"],
                "shareCount": totals["shares"],
                "engagement": round(interactions / totals["impressions"], 6) if totals["impressions"] else 0.0}}
            if share:
                element["share" if share.startswith("urn:li:share:") else "ugcPost"] = share
            elements.append(element)
        return Response(200, {"elements": elements, "paging": {"start": 0, "count": 10, "links": []}})

    def social_metadata(self, urn):
        post = self.state.li_posts.get(urn)
        if post is None:
            raise li_error(404, f"{urn} not found")
        m = self.stats(post)
        reactions = {"LIKE": {"reactionType": "LIKE", "count": m["likes"]}} if m["likes"] else {}
        return Response(200, {"entity": urn, "reactionSummaries": reactions,
                              "commentSummary": {"count": m["comments"], "topLevelCount": m["comments"]},
                              "commentsState": "OPEN"})



def configure(state, body):
    """Control API: how LinkedIn behaves for this run (processing time and outcome, video part size, which
    apps are approved for programmatic refresh tokens). Raises ValueError on a bad value."""
    config = state.li_config
    if "processing_seconds" in body:
        seconds = float(body["processing_seconds"])
        if seconds < 0:
            raise ValueError("processing_seconds must be 0 or more")
        config["processing_seconds"] = seconds
    if "processing_outcome" in body:
        if body["processing_outcome"] not in ("AVAILABLE", "PROCESSING_FAILED"):
            raise ValueError("processing_outcome must be AVAILABLE or PROCESSING_FAILED")
        config["processing_outcome"] = body["processing_outcome"]
    if "video_part_size" in body:
        size = int(body["video_part_size"])
        if size < 1:
            raise ValueError("video_part_size must be at least 1 byte")
        config["video_part_size"] = size
    if "upload_base_url" in body:
        base = str(body["upload_base_url"] or "")
        if base and not re.match(r"https?://[^/?#]+$", base):
            raise ValueError("upload_base_url must be scheme://host[:port] or empty")
        config["upload_base_url"] = base
    for client_id, approved in (body.get("programmatic_refresh") or {}).items():
        if client_id not in world.LINKEDIN_APPS:
            raise ValueError(f"unknown LinkedIn app {client_id}")
        config["programmatic_refresh"][client_id] = bool(approved)
    return dict(config)
