"""`studio serve`: the engine, headless, over HTTP and WebSocket (protocol v1, see
studio.server). Loopback by default; any other address needs --token-file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from studio.server.protocol import DEFAULT_PORT

DESCRIPTION = """\
Run the engine without the window, for other machines' windows (Engine > Connect to
Server...) and scripts. It binds to 127.0.0.1 unless --host says otherwise; any other
address needs --token-file, and every call then carries `Authorization: Bearer TOKEN`.
Across machines, an SSH tunnel keeps it on loopback:
  ssh -N -L 7860:127.0.0.1:7860 gpu-box    (then connect to http://127.0.0.1:7860)
Finished results are kept until fetched, or 10 minutes, within 512 MB."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio serve", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--token-file", help="a file holding the token (one line, 16+ characters); "
                   "required past loopback")
    p.add_argument("--device", help="cpu, cuda, mps (default: the best there is)")
    p.add_argument("--threads", type=int, help="torch threads for the engine")
    return p


def cmd_serve(argv: Sequence[str], usage_error: type[Exception]) -> int:
    args = parser().parse_args(argv)
    if not 0 < args.port < 65536:
        raise usage_error(f"--port {args.port} is not a port number")
    from studio.server.serve import ServeError, read_token, serve
    from studio.wiring import build_services

    try:
        token = read_token(args.token_file, args.host)
    except ServeError as exc:
        raise usage_error(str(exc)) from None
    services = build_services(device=args.device, threads=args.threads)
    print(f"studio serve: http://{args.host}:{args.port} (protocol v1"
          f"{', token required' if token else ', loopback only'}); Ctrl+C stops",
          file=sys.stderr)
    try:
        serve(services.engine, services.library, host=args.host, port=args.port, token=token)
    finally:
        services.close()
    return 0
