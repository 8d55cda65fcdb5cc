"""The command line as a user's terminal starts it, for tests that press Ctrl-C on it."""

from __future__ import annotations

import sys

# A process started in the background (`make test &`, nohup, some CI runners) has SIGINT ignored, and
# so has every process it starts: Ctrl-C sent by a test would do nothing. A terminal's process has the
# default, which Python turns into KeyboardInterrupt.
_AS_FROM_A_TERMINAL = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                       "runpy.run_module('occlurestyle.cli', run_name='__main__', alter_sys=True)")


def cli(*args: str, python_options: tuple[str, ...] = ()) -> list[str]:
    """`python -m occlurestyle.cli ARGS` with Ctrl-C (SIGINT) raising KeyboardInterrupt in it."""
    return [sys.executable, *python_options, "-c", _AS_FROM_A_TERMINAL, *args]
