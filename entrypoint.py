#!/usr/bin/env python3
"""The Docker action's entrypoint: no arguments runs the gate from INPUT_* variables; any
arguments are the `cekura-ci` command line (so `docker run IMAGE demo` works too)."""

import os
import signal
import sys


def _leave(signum: int, _frame: object) -> None:
    # Cancelled while the program is still loading: nothing has been sent or written, so leave at
    # once with the signal's exit code. Not by raising, which could strand the import lock held
    # mid-import and hang the interpreter's exit. The gate takes these signals over once it starts.
    os._exit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _leave)
    signal.signal(signal.SIGTERM, _leave)
    from cekura_ci.cli import action_main, main

    sys.exit(main(sys.argv[1:]) if len(sys.argv) > 1 else action_main(os.environ))
