"""A minimal TAP reporter shared by the Jepsen-style test files."""

import os
import sys
import traceback


class Tap:
    """Runs named test functions and prints one TAP line each."""

    def __init__(self):
        self.results = []

    def comment(self, text):
        for line in str(text).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def run(self, name, fn, *args):
        only = os.environ.get("TAP_ONLY")  # local runs: a substring of names
        if only and only not in name:
            return None
        diag, ok, value = "", False, None
        try:
            value = fn(*args)
            ok = True
        except Exception:
            diag = traceback.format_exc()
        self.results.append(ok)
        print("%s %d - %s" % ("ok" if ok else "not ok", len(self.results), name))
        self.comment(diag)
        return value

    def finish(self):
        print("1..%d" % len(self.results))
        sys.stdout.flush()
        sys.exit(0 if all(self.results) else 1)
