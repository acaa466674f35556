"""Gunicorn's access log without secrets: `--logger-class socialcrm.gunicorn_logging.RedactingLogger`.

The default access line holds the raw request URI (OAuth callbacks carry `code` and `state` in it;
unsubscribe links are credentials in their path) and the referer. Every atom that could carry
them is rewritten here, so any --access-logformat stays safe.
"""

from gunicorn.glogging import Logger

from socialcrm.redaction import REDACTED, redact_path

_SECRET_HEADERS = {"{authorization}i", "{cookie}i", "{proxy-authorization}i", "{set-cookie}o", "{x-api-key}i"}
_URL_HEADERS = {"{referer}i", "{location}o"}


def _redact_url(value):
    if not value or value == "-":
        return value
    scheme, sep, rest = value.partition("://")
    if not sep:
        return redact_path(value)
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host}{redact_path(slash + path)}" if slash else f"{scheme}://{host.split('?', 1)[0]}"


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        # The WSGI environ repeats everything (QUERY_STRING, RAW_URI, HTTP_COOKIE): none of it is logged.
        atoms = {key: value for key, value in atoms.items() if not key.endswith("}e")}
        path = redact_path(atoms.get("U") or "")
        atoms.update(U=path, q="", r=f"{atoms.get('m')} {path} {atoms.get('H')}", f=_redact_url(atoms.get("f")))
        for key in _SECRET_HEADERS & atoms.keys():
            atoms[key] = REDACTED
        for key in _URL_HEADERS & atoms.keys():
            atoms[key] = _redact_url(atoms[key])
        return atoms
