"""Start the review page, listening on 127.0.0.1 unless told otherwise.

python -m review_app [--port 8501] [--address 127.0.0.1]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"


def command(port: int = 8501, address: str = "127.0.0.1") -> list[str]:
    """The ``streamlit run`` command line for the review page."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m review_app", description=__doc__)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument(
        "--address",
        default="127.0.0.1",
        help="0.0.0.0 exposes it to the network: set REVIEW_PASSWORD",
    )
    args = parser.parse_args(argv)
    cmd = command(args.port, args.address)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
