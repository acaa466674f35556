"""Write a local `.env` for `make run`: debug on, a fresh token key, platforms pointed at the simulator.

An existing `.env` is never replaced (its token key protects tokens already stored). The file holds no
port: SITE_URL follows PORT and the platform URLs follow SIMULATOR_PORT (socialcrm/settings.py), so
`make run PORT=... SIMULATOR_PORT=...` needs no edit. A `.env` written before that has its port-derived
lines (values on http://127.0.0.1:…) taken out; every other line is kept as it is.
"""

import argparse
import secrets
from pathlib import Path

from connections.vault import generate_key_entry

BASE_DIR = Path(__file__).resolve().parent.parent

# Lines older versions wrote with the ports frozen in; settings now derive them.
PORT_DERIVED = ("SITE_URL", "FACEBOOK_DIALOG_URL", "FACEBOOK_GRAPH_URL", "X_AUTHORIZE_URL", "X_API_URL",
                "LINKEDIN_OAUTH_URL", "LINKEDIN_API_URL")
LOCAL_PREFIX = "http://127.0.0.1:"


def render():
    return "\n".join([
        "# Local settings written by `make run`. Keep TOKEN_ENCRYPTION_KEYS: stored tokens need it.",
        "# SITE_URL follows PORT and the platform URLs follow SIMULATOR_PORT unless set here or in the environment.",
        "DEBUG=1",
        f"SECRET_KEY={secrets.token_urlsafe(48)}",
        f"TOKEN_ENCRYPTION_KEYS={generate_key_entry('local1')}",
        "# The platform simulator (python -m simulator) stands in for the four platforms.",
        "USE_PLATFORM_SIMULATOR=1",
        "FACEBOOK_APP_ID=sim-fb-app",
        "FACEBOOK_APP_SECRET=sim-fb-secret",
        "X_CLIENT_ID=sim-x-client",
        "X_CLIENT_SECRET=sim-x-secret",
        "LINKEDIN_CLIENT_ID=sim-li-client",
        "LINKEDIN_CLIENT_SECRET=sim-li-secret",
        "",
    ])


def upgrade(text):
    """`text` without the port-derived local lines, and with USE_PLATFORM_SIMULATOR=1 if any platform line went."""
    kept, removed = [], []
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name.strip() in PORT_DERIVED and value.strip().strip("'\"").startswith(LOCAL_PREFIX):
            removed.append(name.strip())
        else:
            kept.append(line)
    if any(name != "SITE_URL" for name in removed) and not any(
            line.partition("=")[0].strip() == "USE_PLATFORM_SIMULATOR" for line in kept):
        kept.append("USE_PLATFORM_SIMULATOR=1")
    return "\n".join(kept) + "\n", removed


def site_url():
    """SITE_URL from the settings themselves, so `make run` hands every process the value the web app uses."""
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialcrm.settings")
    from django.conf import settings

    return settings.SITE_URL


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", default=str(BASE_DIR / ".env"))
    parser.add_argument("--site-url", action="store_true",
                        help="print SITE_URL as the app will see it (environment, then .env, then PORT) and exit")
    args = parser.parse_args(argv)
    if args.site_url:
        print(site_url())
        return
    path = Path(args.path)
    if not path.exists():
        path.write_text(render())
        path.chmod(0o600)
        print(f"Wrote {path} with a new token encryption key.")
        return
    text, removed = upgrade(path.read_text())
    if removed:
        path.write_text(text)
        print(f"{path}: removed {', '.join(removed)} (they now follow PORT and SIMULATOR_PORT); kept the rest.")


if __name__ == "__main__":
    main()
