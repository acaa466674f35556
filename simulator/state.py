"""In-memory state of the simulated platforms, guarded by one lock."""

import collections
import contextlib
import hashlib
import itertools
import pickle
import secrets
import threading
import time
from dataclasses import dataclass, field

from . import world

PLATFORMS = ("facebook", "instagram", "twitter", "linkedin")


class UsageWindow:
    """Graph calls of the last hour (simulated time), counted per business id and in all.

    Each call is counted once in and once out, so a run of tens of thousands of calls costs the same per
    call as a run of ten (the usage headers are computed on every Graph answer)."""

    SECONDS = 3600

    def __init__(self):
        self.calls = collections.deque()  # (time, business id or None), oldest first
        self.by_business = collections.Counter()

    def add(self, at, business):
        self.calls.append((at, business))
        self.by_business[business] += 1

    def _forget_before(self, now):
        while self.calls and now - self.calls[0][0] >= self.SECONDS:
            _, business = self.calls.popleft()
            self.by_business[business] -= 1
            if not self.by_business[business]:
                del self.by_business[business]

    def count(self, now, business=None, *, every_business=False):
        """Calls in the hour before ``now``: of ``business``, or of every business with ``every_business``."""
        self._forget_before(now)
        return len(self.calls) if every_business else self.by_business.get(business, 0)


@dataclass
class Token:
    value: str
    platform: str  # facebook (also Instagram), twitter, linkedin
    kind: str  # user | page | access | refresh
    subject: str  # user id, page id or member urn
    scopes: set
    expires_at: float | None
    client_id: str
    long_lived: bool = False
    revoked: str | bool = False  # False, or why: password, deauthorized, rotated, revoked
    page_id: str | None = None
    pair: str | None = None  # X: the access token issued with this refresh token (and back)
    scope_order: list | None = None


@dataclass
class Code:
    value: str
    platform: str
    client_id: str
    redirect_uri: str
    scopes: list
    expires_at: float
    code_challenge: str | None = None
    used: bool = False


@dataclass
class Fault:
    platform: str
    method: str
    pattern: str
    kind: str
    times: int
    options: dict = field(default_factory=dict)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self._ids = {
            "fb_post": itertools.count(500000000000001),
            "fb_photo": itertools.count(600000000000001),
            "fb_video": itertools.count(700000000000001),
            "ig_container": itertools.count(17900000000000001),
            "ig_media": itertools.count(17950000000000001),
            "tweet": itertools.count(1860000000000000001),
            "x_media": itertools.count(1870000000000000001),
            "li_share": itertools.count(7200000000000000001),
            "li_image": itertools.count(1),
            "li_video": itertools.count(1),
            "seq": itertools.count(1),
        }
        self.reset()

    def reset(self):
        self.clock_offset = 0.0
        self.latency_ms = 0
        self.tokens = {}
        self.codes = {}
        self.consents = {}
        self.faults = []
        self.log = []
        self.published = []
        self.metric_overrides = {}
        self.usage_override = {}
        self.usage_calls = UsageWindow()  # Graph calls of the last hour, per business id
        self.fb_grants = {}  # user id -> set of granted permissions
        self.fb_posts = {}  # "page_post" -> dict
        self.fb_photos = {}  # photo id -> dict
        self.fb_videos = {}  # video id -> dict
        self.processing = {name: {"seconds": seconds, "outcome": "ready"}
                           for name, seconds in world.VIDEO_PROCESSING_SECONDS.items()}
        self.ig_quota_total = world.INSTAGRAM_PUBLISH_QUOTA
        self.ig_containers = {}
        self.ig_media = {}
        self.tweets = {}
        self.x_media = {}
        self.x_windows = {}  # (user, endpoint) -> [window_start, count]
        self.x_day_windows = {}  # ("user", id) or ("app", client id) -> [window_start, count] of POST /2/tweets
        self.x_config = {}  # overrides set through POST /_sim/x (see simulator/twitter.py X_DEFAULTS)
        self.li_images = {}
        self.li_videos = {}
        self.li_posts = {}
        self.li_config = {"processing_seconds": world.LINKEDIN_MEDIA_PROCESSING_SECONDS,
                          "processing_outcome": "AVAILABLE", "video_part_size": world.LINKEDIN_VIDEO_PART_SIZE,
                          "upload_base_url": "",
                          "programmatic_refresh": {k: v["programmatic_refresh"]
                                                   for k, v in world.LINKEDIN_APPS.items()}}

    # persistence (so `make run` restarts keep the tokens staff connected with) ---------
    PERSISTED = ("clock_offset", "tokens", "fb_grants", "fb_posts", "fb_photos", "fb_videos", "ig_containers", "ig_media",
                 "tweets", "x_media", "li_images", "li_videos", "li_posts", "published", "metric_overrides", "_ids")

    def snapshot(self):
        with self.lock:
            return pickle.dumps({name: getattr(self, name) for name in self.PERSISTED})

    def restore(self, blob):
        data = pickle.loads(blob)  # noqa: S301 - the simulator's own file under var/, written by snapshot()
        with self.lock:
            fresh_ids = self._ids
            for name in self.PERSISTED:
                if name in data:
                    setattr(self, name, data[name])
            for kind, counter in fresh_ids.items():  # a state file from before a new kind of id
                self._ids.setdefault(kind, counter)

    # clock -------------------------------------------------------------
    def now(self):
        return time.time() + self.clock_offset

    def real_epoch(self, sim_time):
        """A simulated instant expressed on the caller's wall clock (for reset headers)."""
        return sim_time - self.clock_offset

    def next_id(self, kind):
        return str(next(self._ids[kind]))

    # tokens ------------------------------------------------------------
    def issue(self, platform, kind, subject, scopes, ttl, client_id, **extra):
        value = f"sim{platform[:2].upper()}{kind[0]}." + secrets.token_urlsafe(24)
        token = Token(value, platform, kind, subject, set(scopes),
                      None if ttl is None else self.now() + ttl, client_id, **extra)
        self.tokens[value] = token
        return token

    def token_problem(self, token):
        """None when usable, else 'invalid', 'revoked' or 'expired'."""
        if token is None:
            return "invalid"
        if token.revoked:
            return "revoked"
        if token.expires_at is not None and self.now() >= token.expires_at:
            return "expired"
        return None

    def new_code(self, platform, client_id, redirect_uri, scopes, ttl, code_challenge=None):
        code = Code(secrets.token_urlsafe(24), platform, client_id, redirect_uri, list(scopes),
                    self.now() + ttl, code_challenge)
        self.codes[code.value] = code
        return code

    @contextlib.contextmanager
    def unlocked(self):
        """Let other requests run while this one waits on the network."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    # metrics -----------------------------------------------------------
    def metrics(self, post_id, created_at):
        """Counts that grow with age, deterministic per post, overridable from the control API."""
        seed = int(hashlib.sha256(str(post_id).encode()).hexdigest()[:8], 16)
        minutes = max(0.0, (self.now() - created_at) / 60)
        rate = 0.2 + (seed % 100) / 100
        likes = min(400 + seed % 200, int(minutes * rate))
        impressions = min(20000 + seed % 5000, int(minutes * rate * 25))
        values = {
            "likes": likes,
            "comments": likes // 6,
            "shares": likes // 12,
            "saves": likes // 15,
            "quotes": likes // 40,
            "bookmarks": likes // 20,
            "clicks": likes // 3,
            "impressions": impressions,
            "reach": int(impressions * 0.7),
        }
        values.update(self.metric_overrides.get(str(post_id), {}))
        return values
