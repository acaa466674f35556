"""Check that the ports `make run` is about to use are free, before anything starts.

    python -m socialcrm.ports PORT=8000 SIMULATOR_PORT=8100

Exits 0 when every port can be bound on 127.0.0.1; else prints which one is taken (or invalid) and how to
choose another, and exits 1, so the stack is never left half started.
"""

import socket
import sys

HOST = "127.0.0.1"


def port_problem(name, value):
    """Why `value` cannot serve as `name` on this machine, or None when it can."""
    try:
        port = int(value)
    except (TypeError, ValueError):
        return f"{name}={value!r} is not a port number (1-65535)."
    if not 1 <= port <= 65535:
        return f"{name}={port} is not a port number (1-65535)."
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The same option gunicorn and the simulator set: a port in TIME_WAIT is free for them, and for us.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except PermissionError:
            return f"{name}={port}: this user may not listen on port {port} (ports below 1024 need privileges)."
        except OSError:
            return f"{name}={port}: port {port} on {HOST} is already in use by another program."
    return None


def ports_problems(ports):
    """Problems with the named ports (a dict name -> value), each said once, in order."""
    problems = [problem for name, value in ports.items() if (problem := port_problem(name, value))]
    values = [str(value) for value in ports.values()]
    duplicates = sorted({value for value in values if values.count(value) > 1})
    for value in duplicates:
        names = " and ".join(name for name, v in ports.items() if str(v) == value)
        problems.append(f"{names} are both {value}: each needs a port of its own.")
    return problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ports = dict(arg.split("=", 1) for arg in argv)
    problems = ports_problems(ports)
    if not problems:
        return 0
    for problem in problems:
        print(f"Cannot start: {problem}", file=sys.stderr)
    example = " ".join(f"{name}=<free port>" for name in ports)
    print(f"Nothing was started. Free the port, or choose others: make run {example}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
