"""Control API under /_sim/ for tests: reset, faults, clock, latency, usage, logs and published posts."""

import json

from . import world
from .media import SAMPLES, content_type_of
from .protocol import HttpError, Response
from .twitter import X_DEFAULTS


def bad_request(message):
    return HttpError(Response(400, {"ok": False, "error": message}))


class Control:
    def __init__(self, state, parse_fault):
        self.state = state
        self.parse_fault = parse_fault

    def handle(self, req):
        try:
            return self.route(req)
        except HttpError as exc:
            return exc.response

    def body(self, req):
        if not req.body:
            return {}
        try:
            value = json.loads(req.body)
        except ValueError:
            raise bad_request("the body must be JSON") from None
        if not isinstance(value, dict):
            raise bad_request("the body must be a JSON object")
        return value

    def route(self, req):
        s = self.state
        path, method = req.path.rstrip("/"), req.method
        if path.startswith("/_sim/media/") and method in ("GET", "HEAD"):
            name = path.rsplit("/", 1)[1]
            if name not in SAMPLES:
                return Response(404, {"error": "no such sample"})
            return Response(200, SAMPLES[name], content_type=content_type_of(name))
        if path == "/_sim/health":
            return Response(200, {"ok": True})
        if path in ("/_sim", "/_sim/world"):
            return Response(200, self.world_summary(req))
        if (method, path) == ("POST", "/_sim/reset"):
            s.reset()
            return Response(200, {"ok": True})
        if path == "/_sim/faults":
            if method == "POST":
                try:
                    fault = self.parse_fault(self.body(req))
                except ValueError as exc:
                    raise bad_request(str(exc)) from None
                s.faults.append(fault)
                return Response(200, {"ok": True, "pending": len(s.faults)})
            if method == "DELETE":
                s.faults.clear()
                return Response(200, {"ok": True})
            return Response(200, {"faults": [
                {"platform": f.platform, "endpoint": f"{f.method} {f.pattern}", "kind": f.kind, "times": f.times,
                 **f.options} for f in s.faults if f.times > 0]})
        if (method, path) == ("GET", "/_sim/requests"):
            platform, since = req.query.get("platform"), int(req.query.get("since", 0) or 0)
            entries = [e for e in s.log if e["seq"] > since and (not platform or e["platform"] == platform)]
            return Response(200, {"requests": entries})
        if (method, path) == ("GET", "/_sim/published"):
            platform, account = req.query.get("platform"), req.query.get("account")
            posts = [p for p in s.published if (not platform or p["platform"] == platform)
                     and (not account or account in (p["account_id"], p["account_id"].rsplit(":", 1)[-1]))]
            return Response(200, {"published": posts})
        if path == "/_sim/clock":
            if method == "POST":
                advance = float(self.body(req).get("advance", 0))
                if advance < 0:
                    raise bad_request("the clock only moves forward")
                s.clock_offset += advance
            return Response(200, {"now": s.now(), "offset": s.clock_offset})
        if (method, path) == ("POST", "/_sim/latency"):
            s.latency_ms = max(0, int(self.body(req).get("ms", 0)))
            return Response(200, {"ok": True, "ms": s.latency_ms})
        if (method, path) == ("POST", "/_sim/usage"):
            body = self.body(req)
            platform = body.get("platform", "facebook")
            if platform not in ("facebook", "instagram"):
                raise bad_request("usage applies to facebook or instagram")
            numbers = {k: int(body[k]) for k in ("call_count", "total_cputime", "total_time",
                                                 "estimated_time_to_regain_access") if k in body}
            key = (platform, str(body["account"]) if body.get("account") else None)
            if numbers:
                s.usage_override[key] = numbers
            else:
                s.usage_override.pop(key, None)
            return Response(200, {"ok": True})
        if path == "/_sim/x":
            if method == "POST":
                s.x_config.update(self.x_settings(self.body(req)))
            return Response(200, {"ok": True, "x": {**X_DEFAULTS, **s.x_config}})
        if (method, path) == ("POST", "/_sim/linkedin"):
            from .linkedin import configure

            try:
                return Response(200, {"ok": True, **configure(s, self.body(req))})
            except (TypeError, ValueError) as exc:
                raise bad_request(str(exc)) from None
        if (method, path) == ("POST", "/_sim/processing"):
            body = self.body(req)
            platform = body.get("platform")
            if platform not in s.processing:
                raise bad_request("processing applies to facebook or instagram")
            outcome = str(body.get("outcome", "ready")).lower()
            if outcome not in ("ready", "error"):
                raise bad_request("outcome is ready or error")
            s.processing[platform] = {"seconds": max(0.0, float(body.get("seconds", 0))), "outcome": outcome}
            return Response(200, {"ok": True, **s.processing[platform]})
        if (method, path) == ("POST", "/_sim/limits"):
            body = self.body(req)
            if "instagram_publish_quota" in body:
                s.ig_quota_total = max(0, int(body["instagram_publish_quota"]))
            return Response(200, {"ok": True, "instagram_publish_quota": s.ig_quota_total})
        if (method, path) == ("POST", "/_sim/tokens/revoke"):
            return Response(200, {"ok": True, "revoked": self.revoke_tokens(self.body(req))})
        if (method, path) == ("POST", "/_sim/metrics"):
            body = self.body(req)
            post_id = str(body.get("post_id", ""))
            if not post_id or not isinstance(body.get("metrics"), dict):
                raise bad_request("post_id and metrics are required")
            s.metric_overrides.setdefault(post_id, {}).update({k: int(v) for k, v in body["metrics"].items()})
            return Response(200, {"ok": True})
        return Response(404, {"error": f"unknown control endpoint {method} {path}"})

    @staticmethod
    def x_settings(body):
        unknown = sorted(set(body) - set(X_DEFAULTS))
        if unknown:
            raise bad_request(f"unknown X settings: {', '.join(unknown)}; known: {', '.join(sorted(X_DEFAULTS))}")
        values = {}
        for name, value in body.items():
            if isinstance(X_DEFAULTS[name], bool):
                if not isinstance(value, bool):
                    raise bad_request(f"{name} must be true or false")
                values[name] = value
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise bad_request(f"{name} must be a number") from None
            if number < 0:
                raise bad_request(f"{name} cannot be negative")
            values[name] = number if name == "processing_seconds" else int(number)
        return values

    def revoke_tokens(self, body):
        platform = body.get("platform")
        if platform not in ("facebook", "instagram", "twitter", "linkedin"):
            raise bad_request("platform must be facebook, instagram, twitter or linkedin")
        token_platform = "facebook" if platform == "instagram" else platform
        account = str(body["account"]) if body.get("account") else None
        if account and platform == "instagram":
            account = world.INSTAGRAM_ACCOUNTS.get(account, {}).get("page_id", account)
        count = 0
        for token in self.state.tokens.values():
            if token.platform != token_platform or token.revoked:
                continue
            if account and account not in (token.subject, token.page_id):
                continue
            token.revoked = "password"
            count += 1
        return count

    def world_summary(self, req):
        return {
            "facebook": {"app_id": world.FACEBOOK_APP_ID, "user_id": world.FACEBOOK_USER_ID,
                         "pages": world.FACEBOOK_PAGES},
            "instagram": world.INSTAGRAM_ACCOUNTS,
            "twitter": {"client_id": world.X_CLIENT_ID, "user_id": world.X_USER_ID, "username": world.X_USERNAME},
            "linkedin": {"client_id": world.LINKEDIN_CLIENT_ID, "member": world.LINKEDIN_MEMBER_URN,
                         "organizations": world.LINKEDIN_ORGANIZATIONS},
            "media": [f"{req.base_url}/_sim/media/{name}" for name in world.SAMPLE_MEDIA],
        }
