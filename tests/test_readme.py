"""The README's examples run as written: every ```sh block, in order, with bash, against a live
embedded server seeded like `make run` (the demo tenant and its key), and every curl in them
answers a 2xx. A README whose examples fail on a fresh install teaches the wrong API.

The reader sets `KEY` (the key `make run` prints) and `API`; the README shows those two
assignments with placeholders, so this test drops them and sets both itself. `curl` is wrapped
to fail on a non-2xx answer (printing the answer) and to log each call's status.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.stack import ROOT
from tests.embedded import embedded_server

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
PLACEHOLDERS = re.compile(r"^(KEY|API)=.*$", re.MULTILINE)
CURL = re.compile(r"(?:^|\$\(|\s)curl\s")
STATUS = re.compile(r"^README-CURL (\d{3}) (\S+) (\S+)$", re.MULTILINE)
PRELUDE = """\
set -euo pipefail
curl() {
    command curl --silent --show-error --fail-with-body \\
        --write-out '%{stderr}README-CURL %{http_code} %{method} %{url_effective}\\n' "$@"
}
"""


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def curl_calls(script: str) -> int:
    """curl commands in a script, comment lines left out."""
    code = [line for line in script.splitlines() if not line.lstrip().startswith("#")]
    return sum(len(CURL.findall(line)) for line in code)


def test_every_readme_example_runs_against_a_fresh_server(tmp_path):
    blocks = sh_blocks(README.read_text())
    assert len(blocks) >= 5, "the README's ```sh examples were not found"
    script = "\n".join(blocks)
    assert len(PLACEHOLDERS.findall(script)) == 2, "the README should show setting KEY and API"
    script = PLACEHOLDERS.sub("", script)
    expected = curl_calls(script)
    with embedded_server(tmp_path) as server:
        seeded = server.manage("seed_demo", "--days", "1", "--base-url", server.base_url)
        key = re.search(r"API key:\s+(\S+)", seeded.stdout)
        assert key, seeded.stdout
        work = tmp_path / "work"  # where the examples write their files (history.ndjson)
        work.mkdir()
        (work / "manage.py").symlink_to(ROOT / "manage.py")
        env = {
            **server.env,
            "KEY": key[1],
            "API": f"{server.base_url}/api/v1",
            # `python` is this virtualenv's, as with `. .venv/bin/activate`
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        ran = subprocess.run(
            ["bash", "-c", PRELUDE + script],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    calls = STATUS.findall(ran.stderr)
    failed = [c for c in calls if not c[0].startswith("2")]
    report = f"stdout:\n{ran.stdout[-4000:]}\nstderr:\n{ran.stderr[-4000:]}"
    assert failed == [], report
    assert ran.returncode == 0, report
    assert len(calls) == expected, report  # every curl ran, none was skipped
