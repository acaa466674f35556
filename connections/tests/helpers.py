"""Drive the connect flow the way a browser does, against the simulator."""

from urllib.parse import urlsplit

from django.urls import reverse

from platforms.tests.contract import click_consent


def start(client, slug, **query):
    response = client.get(reverse("connections:connect", args=[slug]), query)
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def back_from_platform(client, location):
    """Follow the platform's redirect to our callback with the test client."""
    parts = urlsplit(location)
    return client.get(parts.path, dict(item.split("=", 1) for item in parts.query.split("&") if item), follow=False)


def connect(client, slug, pick, club=""):
    """Connect ``pick`` (account ids) through consent, callback and picker; returns the picker POST response."""
    callback = back_from_platform(client, click_consent(start(client, slug)))
    assert callback.status_code == 302, callback.content[:500]
    data = {"account": pick}
    data.update({f"club-{account_id}": club for account_id in pick})
    return client.post(callback["Location"], data)
