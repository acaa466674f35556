"""Raised publish quotas for throughput runs: ``python -m simulator --raised-quotas``.

The seeded world keeps the platforms' real publish limits: X's 100 tweets per 15 minutes and its
24-hour caps per user (2,400) and per app (10,000), and Instagram's 50 posts per 24 hours per
account. A benchmark that publishes thousands of posts through one simulated account would measure
those limits instead of the publisher, so ``--raised-quotas`` lifts exactly these, for the whole
process: they become the defaults, so ``POST /_sim/reset`` keeps them raised, and ``POST /_sim/x`` /
``POST /_sim/limits`` can still set other numbers. Latency, faults, duplicate checks, every other
endpoint's rate limit and the Graph usage headers stay as they are.
"""

from . import twitter, world

RAISED = 10**9


def raise_publish_quotas(value: int = RAISED) -> None:
    world.X_TWEETS_PER_15_MIN = value
    world.X_TWEETS_PER_24H_USER = value
    world.X_TWEETS_PER_24H_APP = value
    world.INSTAGRAM_PUBLISH_QUOTA = value
    twitter.LIMITS[("POST", "/2/tweets")] = value
    twitter.X_DEFAULTS["user_24h_limit"] = value
    twitter.X_DEFAULTS["app_24h_limit"] = value
