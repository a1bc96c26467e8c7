"""Serve an estate as a local HTTPS Resource Manager, for trying live collection by hand.

    python -m tests.standin ESTATE.json[.gz] [--page-size N] [--latency S]
        [--fail REGEX STATUS] [--throttle REGEX SECONDS] [--malform REGEX] [--workdir DIR]

Prints the environment that points `amlaudit scan` at it (fake `az` first on PATH,
AZURE_TOKEN_CREDENTIALS=AzureCliCredential, REQUESTS_CA_BUNDLE, AMLAUDIT_ARM_ENDPOINT) and serves
on 127.0.0.1 until interrupted; on exit it prints how many requests of each method it received.
"""

from __future__ import annotations

import argparse
import shlex
import tempfile
import time
from pathlib import Path

from amlaudit.auditor.snapshot import load_snapshot
from tests.standin.environment import standin_environment
from tests.standin.server import StandIn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.standin", description=__doc__.split("\n\n")[0])
    parser.add_argument("estate", type=Path, help="an amlaudit snapshot whose resources to serve")
    parser.add_argument("--page-size", type=int, default=None, help="items per list page (nextLink paging)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--fail", nargs=2, action="append", default=[], metavar=("REGEX", "STATUS"),
                        help="answer requests whose path matches with this HTTP status (repeatable)")
    parser.add_argument("--throttle", nargs=2, action="append", default=[], metavar=("REGEX", "SECONDS"),
                        help="answer the first matching request with 429 and Retry-After (repeatable)")
    parser.add_argument("--malform", action="append", default=[], metavar="REGEX",
                        help="answer matching requests with a body that is not JSON (repeatable)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the CA bundle and the fake az")
    args = parser.parse_args(argv)

    estate = load_snapshot(args.estate).raw
    server = StandIn(estate, page_size=args.page_size, latency=args.latency)
    for pattern, status in args.fail:
        server.fail(pattern, int(status))
    for pattern, seconds in args.throttle:
        server.fail(pattern, 429, times=1, retry_after=float(seconds))
    for pattern in args.malform:
        server.malform(pattern)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="amlaudit-standin-"))
    with server:
        to_set, _ = standin_environment(server.url, server.ca, workdir)
        print(f"# stand-in Resource Manager at {server.url} serving {args.estate}")
        for name in ("AZURE_TOKEN_CREDENTIALS", "PATH", "REQUESTS_CA_BUNDLE", "NO_PROXY", "AMLAUDIT_ARM_ENDPOINT"):
            print(f"export {name}={shlex.quote(to_set[name])}")
        print("# then: amlaudit scan --out DIR   (Ctrl-C here to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        print(f"# {server.count('GET')} GET, {server.count() - server.count('GET')} other requests received")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
