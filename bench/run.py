"""`make bench`: every benchmark in turn (each prints its own figures)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in (
    "ingest.py",
    "leaderboard.py",
    "widgets.py",
    "admin_export.py",
    "webhooks.py",
    "soak.py",
):
    print(f"=== bench/{script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True)
