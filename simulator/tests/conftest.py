"""Raw-HTTP helpers for the simulator's own tests (no Django, no adapters)."""

import base64
import hashlib
import html.parser
import secrets
import time
import urllib.parse

import pytest
import requests

from simulator import world

CURRENT_VERSION = time.strftime("%Y%m", time.gmtime())
REDIRECT = "http://testserver/connections/callback/"


class ConsentForm(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.action, self.fields, self.buttons, self.checkboxes = None, [], {}, []
        self._button = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs["action"]
        elif tag == "input" and attrs.get("type") == "checkbox":
            self.checkboxes.append(attrs["value"])
        elif tag == "input":
            self.fields.append((attrs["name"], attrs["value"]))
        elif tag == "button":
            self._button = (attrs["name"], attrs["value"])

    def handle_data(self, data):
        if self._button:
            self.buttons[data.strip()] = self._button
            self._button = None


def click(url, decision="Allow", uncheck=()):
    """Open a consent page, press Allow or Deny, return the redirect Location."""
    page = requests.get(url, allow_redirects=False, timeout=5)
    assert page.status_code == 200, page.text
    form = ConsentForm()
    form.feed(page.text)
    data = list(form.fields) + [("scope", s) for s in form.checkboxes if s not in uncheck]
    data.append(form.buttons[decision])
    answer = requests.post(urllib.parse.urljoin(url, form.action), data=data, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def query(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


FB_SCOPES = ["pages_show_list", "pages_manage_posts", "pages_read_engagement", "read_insights", "publish_video",
             "instagram_basic",
             "instagram_content_publish", "instagram_manage_insights"]
X_SCOPES = ["tweet.read", "tweet.write", "users.read", "media.write", "offline.access"]
LI_SCOPES = ["w_organization_social", "r_organization_social", "rw_organization_admin"]


class Sim:
    """Shortcuts that walk the real OAuth flows against the simulator."""

    def __init__(self, client):
        self.client = client
        self.url = client.url

    def get(self, path, **kw):
        return requests.get(self.url + path, timeout=15, **kw)

    def post(self, path, **kw):
        return requests.post(self.url + path, timeout=15, **kw)

    def delete(self, path, **kw):
        return requests.delete(self.url + path, timeout=15, **kw)

    # Facebook
    def fb_dialog_url(self, scopes=FB_SCOPES, state="st", redirect_uri=REDIRECT, client_id=world.FACEBOOK_APP_ID):
        return self.url + "/v25.0/dialog/oauth?" + urllib.parse.urlencode({
            "client_id": client_id, "redirect_uri": redirect_uri, "state": state, "scope": ",".join(scopes),
            "response_type": "code"})

    def fb_code(self, scopes=FB_SCOPES, uncheck=()):
        return query(click(self.fb_dialog_url(scopes), uncheck=uncheck))["code"]

    def fb_exchange(self, code, redirect_uri=REDIRECT, secret=world.FACEBOOK_APP_SECRET):
        return self.get("/v25.0/oauth/access_token", params={
            "client_id": world.FACEBOOK_APP_ID, "client_secret": secret, "redirect_uri": redirect_uri, "code": code})

    def fb_user_token(self, scopes=FB_SCOPES, long_lived=True, uncheck=()):
        short = self.fb_exchange(self.fb_code(scopes, uncheck)).json()["access_token"]
        if not long_lived:
            return short
        return self.get("/v25.0/oauth/access_token", params={
            "grant_type": "fb_exchange_token", "client_id": world.FACEBOOK_APP_ID,
            "client_secret": world.FACEBOOK_APP_SECRET, "fb_exchange_token": short}).json()["access_token"]

    def fb_page_tokens(self, user_token):
        data = self.get("/v25.0/me/accounts", params={"access_token": user_token}).json()["data"]
        return {page["id"]: page["access_token"] for page in data}

    def page_token(self, page_id=world.PAGE_MAIN_ID, **kw):
        return self.fb_page_tokens(self.fb_user_token(**kw))[page_id]

    # X
    def x_authorize_url(self, challenge, scopes=X_SCOPES, redirect_uri=REDIRECT, method="S256", state="xs"):
        params = {"response_type": "code", "client_id": world.X_CLIENT_ID, "redirect_uri": redirect_uri,
                  "scope": " ".join(scopes), "state": state, "code_challenge_method": method}
        if challenge is not None:
            params["code_challenge"] = challenge
        return self.url + "/i/oauth2/authorize?" + urllib.parse.urlencode(params)

    def x_code(self, scopes=X_SCOPES):
        verifier, challenge = pkce()
        return query(click(self.x_authorize_url(challenge, scopes)))["code"], verifier

    def x_token_call(self, data, auth=(world.X_CLIENT_ID, world.X_CLIENT_SECRET)):
        return self.post("/2/oauth2/token", data=data, auth=auth)

    def x_tokens(self, scopes=X_SCOPES):
        code, verifier = self.x_code(scopes)
        answer = self.x_token_call({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                    "code_verifier": verifier})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def x_token(self, scopes=X_SCOPES):
        return self.x_tokens(scopes)["access_token"]

    # LinkedIn
    def li_authorize_url(self, scopes=LI_SCOPES, redirect_uri=REDIRECT, state="ls"):
        return self.url + "/oauth/v2/authorization?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": world.LINKEDIN_CLIENT_ID, "redirect_uri": redirect_uri,
            "state": state, "scope": " ".join(scopes)})

    def li_token_call(self, data):
        return self.post("/oauth/v2/accessToken", data={"client_id": world.LINKEDIN_CLIENT_ID,
                                                        "client_secret": world.LINKEDIN_CLIENT_SECRET, **data})

    def li_tokens(self, scopes=LI_SCOPES):
        code = query(click(self.li_authorize_url(scopes)))["code"]
        answer = self.li_token_call({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def li_headers(self, token, version=CURRENT_VERSION):
        headers = {"Authorization": f"Bearer {token}", "X-Restli-Protocol-Version": "2.0.0"}
        if version:
            headers["LinkedIn-Version"] = version
        return headers


def pytest_configure(config):
    """Load the simulator fixtures unless the project's root conftest already did."""
    if not config.pluginmanager.has_plugin("simulator.pytest_plugin"):
        config.pluginmanager.import_plugin("simulator.pytest_plugin")


@pytest.fixture
def sim(simulator):
    return Sim(simulator)


def li_post_body(text, author="urn:li:organization:3001", **extra):
    return {"author": author, "commentary": text, "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False, **extra}


def graph_error(response):
    return response.json()["error"]
