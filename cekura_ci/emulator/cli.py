"""The stand-in's own command line: serve a world on loopback until stopped. Serving only."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence

from .server import EmulatorServer
from .world import World, WorldError, demo_world, load_world


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog=prog,
        description="Serve a local stand-in for the Cekura API on loopback until stopped.",
    )
    root.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    root.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default 0)")
    root.add_argument("--world", help="world file (JSON or YAML); default: the built-in demo world")
    root.add_argument("--api-key", help="the key clients must send (default: the world's)")
    root.add_argument(
        "--speed", type=float, help="emulated seconds per real second (default: the world's)"
    )
    return root


def load(path: str | None) -> World:
    return load_world(path) if path else demo_world()


def serve(args: argparse.Namespace) -> int:
    world = load(args.world)
    updates = {k: v for k, v in (("api_key", args.api_key), ("speed", args.speed)) if v is not None}
    world = world.model_copy(update=updates)
    server = EmulatorServer(world, host=args.host, port=args.port)

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        f"Cekura emulator listening on {server.url} (API key {world.api_key!r}, "
        f"{len(world.scenarios)} scenarios, speed x{world.speed:g}). Ctrl-C stops it.",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = parser(prog)
    try:
        return serve(arguments.parse_args(argv))
    except WorldError as exc:
        arguments.error(str(exc))  # the usage line and the message, exit 2
