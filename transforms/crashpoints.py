"""Crash points: named places where a test can kill the process as a power cut would.

`GLUCOMAG_CRASH_AT=<name>` makes `crash_point(name)` send SIGKILL to its own process (no
cleanup, no `finally`, no atexit), so `tests/test_crash_safety.py` can prove that a crash at
any step of an import or a mart rebuild loses nothing and leaves no half-written state;
`<name>#<n>` dies the n-th time the point is reached (e.g. the second warehouse opening).
The variable is read once, at import: without it a crash point is one string comparison.
"""

from __future__ import annotations

import os
import signal

CRASH_AT_ENV = "GLUCOMAG_CRASH_AT"
_NAME, _, _NTH = (os.environ.get(CRASH_AT_ENV) or "").partition("#")
_CRASH_AT = _NAME or None
_hits_left = int(_NTH) if _NTH.isdigit() else 1


def crash_point(name: str) -> None:
    """Die here, at once, if the environment names this point."""
    global _hits_left
    if name == _CRASH_AT:
        _hits_left -= 1
        if _hits_left <= 0:
            os.kill(os.getpid(), signal.SIGKILL)
