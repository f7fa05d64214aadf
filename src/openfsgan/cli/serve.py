"""``openfsgan serve``: the local web UI (FastAPI + uvicorn), bound to 127.0.0.1 by default."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import socket
import sys

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the local web UI (upload, swap, watch the job queue, verify)",
        description="Serve the web UI on this computer. Jobs run one at a time in a background "
                    "queue kept in DATA_DIR; a restarted server lists earlier jobs and resumes "
                    "interrupted ones. Needs the [web] extra: pip install 'openfsgan[web]'.")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to listen on (default 127.0.0.1: this computer only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where uploads, results and the job database live (default "
                             "$OPENFSGAN_WEB_DIR or ~/.local/share/openfsgan/web)")
    parser.add_argument("--max-upload-mb", type=int, default=500, metavar="MB",
                        help="largest file accepted, in MiB (default 500)")
    parser.set_defaults(handler=run)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_port_free(host: str, port: int) -> None:
    """Fail early, with the fix, when the address cannot be bound."""
    from openfsgan.errors import ConfigError

    if not 0 < port < 65536:
        raise ConfigError(f"--port must be in 1..65535, got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as error:
            raise ConfigError(f"cannot listen on {host}:{port} ({error.strerror}); "
                              "pass another --port or stop the program using it") from error


def run(args: argparse.Namespace) -> int:
    import sqlite3
    from pathlib import Path

    from openfsgan.errors import ConfigError, OutputError

    try:
        import uvicorn

        from openfsgan.web.app import LOOPBACK_HOSTS, WebSettings, create_app
        from openfsgan.web.storage import default_data_dir
    except ImportError as error:
        raise ConfigError(f"the web UI needs the [web] extra ({error.name} is missing): "
                          "pip install 'openfsgan[web]'") from error

    if args.max_upload_mb < 1:
        raise ConfigError(f"--max-upload-mb must be at least 1, got {args.max_upload_mb}")
    loopback = is_loopback(args.host)
    if not loopback:
        log.warning("!" * 78)
        log.warning("listening on %s, NOT only on this computer: anyone who can reach this "
                    "address can upload files, run jobs and download results; there is no "
                    "login. Use --host 127.0.0.1 unless you trust that network.", args.host)
        log.warning("!" * 78)
    check_port_free(args.host, args.port)
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    settings = WebSettings(
        data_dir=data_dir, max_upload_bytes=args.max_upload_mb * 1024 * 1024,
        allowed_hosts=(*LOOPBACK_HOSTS, args.host.strip("[]").lower()) if loopback else None)
    try:
        app = create_app(settings)
    except OSError as error:
        raise OutputError(f"cannot use the data folder {data_dir}: "
                          f"{error.strerror or error}") from error
    except sqlite3.DatabaseError as error:
        raise ConfigError(f"the job database in {data_dir} is unreadable ({error}); move "
                          "jobs.sqlite3 away to start with an empty job list") from error
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"openfsgan web UI on http://{shown_host}:{args.port}/ (data in "
          f"{app.state.storage.root}); Ctrl-C stops it, a running job resumes at the next start",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host.strip("[]"), port=args.port, log_level="warning",
                access_log=False)
    return 0
