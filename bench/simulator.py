"""``python -m bench.simulator [--raised-quotas] --port 0``: the project's simulator, optionally with raised quotas.

The seeded world has one X user (100 tweets per 15 minutes) and one Instagram account (50 posts per
24 hours): real limits that the throughput benchmarks (B1, B4) would hit after a few seconds, which
would measure the platforms' quotas rather than the publisher. ``--raised-quotas`` lifts those two
numbers and nothing else (latency, faults, duplicates, every other rule stay). The drills run
without it, so rate limits stay real there.
"""

import sys

from simulator import __main__ as simulator_main
from simulator import server, twitter, world

RAISED = 10**9


def main(argv):
    if "--raised-quotas" in argv:
        argv = [a for a in argv if a != "--raised-quotas"]
        twitter.LIMITS[("POST", "/2/tweets")] = RAISED
        world.X_TWEETS_PER_15_MIN = RAISED
        world.INSTAGRAM_PUBLISH_QUOTA = RAISED
        server.MAX_LOG = 200_000  # keep every call of a 12,000-post run countable
    return simulator_main.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
