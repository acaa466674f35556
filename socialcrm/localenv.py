"""Write a local `.env` for `make run`: debug on, a fresh token key, platforms pointed at the simulator.

An existing `.env` is never overwritten (its token key protects tokens already stored).
"""

import argparse
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from connections.vault import generate_key_entry

BASE_DIR = Path(__file__).resolve().parent.parent


def render(simulator_url):
    return "\n".join([
        "# Local settings written by `make run`. Keep TOKEN_ENCRYPTION_KEYS: stored tokens need it.",
        "DEBUG=1",
        f"SECRET_KEY={secrets.token_urlsafe(48)}",
        f"TOKEN_ENCRYPTION_KEYS={generate_key_entry('local1')}",
        "SITE_URL=http://127.0.0.1:8000",
        "# Media addresses on these loopback hosts may be fetched (the simulator's samples, this site).",
        f"FETCH_ALLOWED_HOSTS={urlsplit(simulator_url).netloc},127.0.0.1:8000",
        "# The platform simulator (python -m simulator) stands in for the four platforms.",
        f"FACEBOOK_DIALOG_URL={simulator_url}",
        f"FACEBOOK_GRAPH_URL={simulator_url}",
        "FACEBOOK_APP_ID=sim-fb-app",
        "FACEBOOK_APP_SECRET=sim-fb-secret",
        f"X_AUTHORIZE_URL={simulator_url}/i/oauth2/authorize",
        f"X_API_URL={simulator_url}",
        "X_CLIENT_ID=sim-x-client",
        "X_CLIENT_SECRET=sim-x-secret",
        f"LINKEDIN_OAUTH_URL={simulator_url}/oauth/v2",
        f"LINKEDIN_API_URL={simulator_url}",
        "LINKEDIN_CLIENT_ID=sim-li-client",
        "LINKEDIN_CLIENT_SECRET=sim-li-secret",
        "",
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--simulator-url", default="http://127.0.0.1:8100")
    parser.add_argument("--path", default=str(BASE_DIR / ".env"))
    args = parser.parse_args()
    path = Path(args.path)
    if path.exists():
        print(f"{path} already exists; leaving it as it is.")
        return
    path.write_text(render(args.simulator_url))
    path.chmod(0o600)
    print(f"Wrote {path} with a new token encryption key.")


if __name__ == "__main__":
    main()
