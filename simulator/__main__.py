"""python -m simulator --port N [--host 127.0.0.1]"""

import argparse
import sys

from .server import LOOPBACK_HOSTS, SimulatorServer


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m simulator",
                                     description="Simulated Facebook, Instagram, X and LinkedIn APIs (loopback only).")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address: 127.0.0.1 (default), localhost or ::1")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK_HOSTS:
        parser.exit(2, f"simulator: refusing to listen on {args.host!r}: loopback only "
                       f"({', '.join(LOOPBACK_HOSTS)})\n")
    server = SimulatorServer(args.host, args.port, verbose=args.verbose)
    print(f"simulator listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
