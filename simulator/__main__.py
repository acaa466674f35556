"""python -m simulator --port N [--host 127.0.0.1] [--raised-quotas]"""

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from .quotas import raise_publish_quotas
from .server import LOOPBACK_HOSTS, SimulatorServer

SAVE_EVERY_SECONDS = 10


def _save(server, path):
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(server.simulator.state.snapshot())
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _keep_saving(server, path, stop):
    while not stop.wait(SAVE_EVERY_SECONDS):
        _save(server, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m simulator",
                                     description="Simulated Facebook, Instagram, X and LinkedIn APIs (loopback only).")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address: 127.0.0.1 (default), localhost or ::1")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--state-file", type=Path,
                        help="keep tokens, posts and the clock in this file across restarts (e.g. var/simulator.state)")
    parser.add_argument("--raised-quotas", action="store_true",
                        help="lift X's 15-minute and 24-hour tweet caps and Instagram's 24-hour publish quota "
                             "(throughput benchmarks); every other rule stays")
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK_HOSTS:
        parser.exit(2, f"simulator: refusing to listen on {args.host!r}: loopback only "
                       f"({', '.join(LOOPBACK_HOSTS)})\n")
    if args.raised_quotas:
        raise_publish_quotas()
    server = SimulatorServer(args.host, args.port, verbose=args.verbose)
    stop = threading.Event()
    if args.state_file:
        if args.state_file.exists():
            try:
                server.simulator.state.restore(args.state_file.read_bytes())
            except Exception as exc:  # noqa: BLE001 - a damaged file means starting fresh, said out loud
                print(f"simulator: could not read {args.state_file} ({exc.__class__.__name__}); starting fresh",
                      file=sys.stderr, flush=True)
        args.state_file.parent.mkdir(parents=True, exist_ok=True)
        threading.Thread(target=_keep_saving, args=(server, args.state_file, stop), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(f"simulator listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if args.state_file:
            _save(server, args.state_file)
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
