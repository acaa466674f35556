"""``python -m bench.simulator [--raised-quotas] --port 0``: the project's simulator, with a longer request log.

The seeded world has one X user (100 tweets per 15 minutes, 2,400 per user and 10,000 per app per
24 hours) and one Instagram account (50 posts per 24 hours): real limits that the throughput
benchmarks (B1, B4, B6) would hit after a few seconds, which would measure the platforms' quotas
rather than the publisher. ``--raised-quotas`` is the simulator's own flag
(``simulator/quotas.py``): it lifts those numbers and nothing else (latency, faults, duplicates,
every other rule stay). The drills run without it, so rate limits stay real there.
"""

import sys

from simulator import __main__ as simulator_main
from simulator import server


def main(argv):
    server.MAX_LOG = 200_000  # keep every call of a 20,000-post run countable
    return simulator_main.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
