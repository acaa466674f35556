"""Request and response objects shared by the platform modules."""

import base64
import email.parser
import email.policy
import html
import json
import urllib.parse


class Request:
    def __init__(self, method, target, headers, body, base_url):
        self.method = method
        split = urllib.parse.urlsplit(target)
        self.path = split.path
        self.raw_query = split.query
        self.query_multi = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        self.query = {k: v[0] for k, v in self.query_multi.items()}
        self.headers = headers  # http.client.HTTPMessage: case-insensitive
        self.body = body
        self.base_url = base_url
        self.form = {}
        self.form_multi = {}
        self.json = None
        self.files = {}
        content_type = (headers.get("Content-Type") or "").lower()
        if body and "application/x-www-form-urlencoded" in content_type:
            self.form_multi = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            self.form = {k: v[0] for k, v in self.form_multi.items()}
        elif body and "json" in content_type:
            try:
                self.json = json.loads(body)
            except ValueError:
                self.json = None
                self.bad_json = True
        elif body and "multipart/form-data" in content_type:
            self._parse_multipart(headers.get("Content-Type"))
        self.bad_json = getattr(self, "bad_json", False)

    def _parse_multipart(self, content_type):
        raw = b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + self.body
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True) or b""
            if part.get_filename() is not None or part.get_content_type() not in ("text/plain",):
                self.files[name] = payload
            else:
                self.form[name] = payload.decode("utf-8", "replace")

    @property
    def params(self):
        """Graph style: query string, form and JSON body all carry parameters."""
        merged = dict(self.query)
        merged.update(self.form)
        if isinstance(self.json, dict):
            merged.update({k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list)) else str(v).lower() if isinstance(v, bool) else str(v)
                           for k, v in self.json.items()})
        return merged

    def authorization(self):
        """(scheme, credentials) of the Authorization header, scheme lower-cased."""
        value = self.headers.get("Authorization") or ""
        scheme, _, credentials = value.strip().partition(" ")
        return scheme.lower(), credentials.strip()

    def bearer(self):
        scheme, credentials = self.authorization()
        if scheme in ("bearer", "oauth") and credentials:
            return credentials
        return None

    def basic(self):
        scheme, credentials = self.authorization()
        if scheme != "basic":
            return None
        try:
            decoded = base64.b64decode(credentials).decode()
        except ValueError:
            return None
        user, _, password = decoded.partition(":")
        return urllib.parse.unquote(user), urllib.parse.unquote(password)


class Response:
    def __init__(self, status=200, body=None, headers=None, content_type=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.content_type = content_type

    def encode(self):
        if self.body is None:
            return b"", self.content_type
        if isinstance(self.body, bytes):
            return self.body, self.content_type or "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/html; charset=utf-8"
        return json.dumps(self.body).encode(), self.content_type or "application/json; charset=UTF-8"


class HttpError(Exception):
    def __init__(self, response):
        super().__init__(response.status)
        self.response = response


def redirect(url, params):
    """302 to url with params appended to its own query string."""
    split = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(split.query, keep_blank_values=True) + list(params.items())
    location = urllib.parse.urlunsplit(split._replace(query=urllib.parse.urlencode(query)))
    return Response(302, "", {"Location": location})


def html_page(title, body_html, status=200):
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:36em;margin:3em auto}"
        "button{font-size:1.1em;margin-right:1em}</style></head>"
        f"<body>{body_html}</body></html>"
    )
    return Response(status, page, content_type="text/html; charset=utf-8")


def error_page(message, status=400):
    return html_page("Error", f"<h1>Error</h1><p class='error'>{html.escape(message)}</p>", status)
