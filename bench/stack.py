"""Real processes for benchmarks and integration tests: a private Redis, gunicorn, Celery."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A free loopback port: any, or one of `BENCH_PORTS` (e.g. `8500-8599`) when set, so that
    runs sharing a machine can each keep to their own range."""
    low, _, high = os.environ.get("BENCH_PORTS", "").partition("-")
    candidates = list(range(int(low), int(high or low) + 1)) if low else [0]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def wait_until(check: Callable[[], Any], *, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except (requests.ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


class CpuMeter:
    """CPU seconds (user + system) each kind of process used while the meter ran: where the
    time of a run went. Linux only (/proc); elsewhere it reports nothing.

    Processes are sampled every 0.2 s, so one that both starts and ends between two samples
    is missed, and one that ends is counted up to its last sample.
    """

    KINDS = (("gunicorn", "gunicorn"), ("Celery", "celery"), ("PostgreSQL", "postgres:"),
             ("Redis", "redis-server"))  # fmt: skip

    def __init__(self, pools: tuple[tuple[str, str], ...] = ()) -> None:
        """`pools`: (kind, marker) pairs checked before KINDS — a second gunicorn told
        apart by its `--bind` address, say."""
        self.kinds = (*pools, *self.KINDS)
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, *, baseline: bool) -> None:
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            kind = next((k for k, marker in self.kinds if marker in command), None)
            if kind is None:
                continue
            pid, seconds = int(entry.name), (int(fields[11]) + int(fields[12])) / self.tick
            self.first.setdefault(pid, seconds if baseline else 0.0)
            self.last[pid] = (kind, seconds)

    def _run(self) -> None:
        while not self.stopped.wait(0.2):
            self._sample(baseline=False)

    def __enter__(self) -> CpuMeter:
        if Path("/proc/self/stat").exists():
            self._sample(baseline=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()
            self._sample(baseline=False)

    def seconds(self) -> dict[str, float]:
        totals = dict.fromkeys((k for k, _ in self.kinds), 0.0)
        for pid, (kind, seconds) in self.last.items():
            totals[kind] += seconds - self.first[pid]
        return totals


class Redis:
    """A throw-away redis-server on its own port, which tests may stop and restart."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        wait_until(lambda: redis.Redis(port=self.port).ping(), what="redis")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None


class Postgres:
    """A throw-away PostgreSQL cluster (initdb in a temporary folder, its own port and socket)
    that fault tests may stop, kill and restart — never the shared server on 5432.

    As root (CI containers), the server runs as the `postgres` user, which initdb requires.
    The folder lives under /tmp with a short name: a Unix socket's path is limited to 107 bytes.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="gamify-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.initialized = False

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        prefix: list[str] = []
        if os.geteuid() == 0:
            prefix = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*prefix, *args], check=True, timeout=timeout, capture_output=True, cwd=self.dir
        )

    def _binary(self, name: str) -> str:
        found = shutil.which(name)
        if found:
            return found
        candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
        if not candidates:
            raise FileNotFoundError(f"{name}: no PostgreSQL server binaries on this machine")
        return str(candidates[-1])

    def start(self) -> None:
        if not self.initialized:
            if os.geteuid() == 0:
                shutil.chown(self.dir, "postgres")
            self._run(self._binary("initdb"), "-D", str(self.data), "-U", "postgres",
                      "--auth=trust", "--no-sync")  # fmt: skip
            self.initialized = True
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(self._binary("pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.log), "-w", "-t", "60", "start", timeout=90)  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session at once (clients see their connection terminated)."""
        self._run(self._binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60",
                  "stop", timeout=90)  # fmt: skip

    def restart(self) -> None:
        self.stop()
        self.start()

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        """Stop the server however it is (immediate mode, then SIGKILL) and delete its files."""
        try:
            if self.postmaster_pid():
                self.stop("immediate")
        except (subprocess.SubprocessError, OSError):
            pid = self.postmaster_pid()
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


class Stack:
    """gunicorn + a Celery worker against the test database and a private Redis."""

    def __init__(
        self, database_url: str, redis: Redis, *, web_workers: int = 2, **extra_env: str
    ) -> None:
        self.web_workers = web_workers
        # Threads per web worker (gunicorn's gthread worker when > 1); set before start_web.
        self.web_threads = 1
        # When set (before starting processes), each process's output (stdout and stderr)
        # goes to a file there (web.log, worker.log, beat.log), access log included.
        self.log_dir: Path | None = None
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
            "DATABASE_URL": database_url,
            "REDIS_URL": redis.url,
            "SECRET_KEY": "integration",
            "DEBUG": "false",
            "API_RATE_LIMIT_PER_MINUTE": "1000000",
            "SWEEP_AFTER_SECONDS": "1",
            **extra_env,
        }
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen[bytes]] = []

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout

    def _output(self, name: str) -> Any:
        """Where a process writes: a file in `log_dir` (appended), or the inherited streams."""
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return open(self.log_dir / f"{name}.log", "ab")

    def logs(self) -> str:
        """Everything the processes wrote to `log_dir` so far."""
        if self.log_dir is None:
            return ""
        return "\n".join(
            path.read_text(errors="replace") for path in sorted(self.log_dir.glob("*.log"))
        )

    def start_web(
        self,
        *,
        port: int | None = None,
        workers: int | None = None,
        threads: int | None = None,
        nice: int = 0,
        name: str = "web",
    ) -> int:
        """gunicorn with the product's settings (config/gunicorn.py: the worker class, the
        redacting logger), `web_workers` processes of `web_threads` threads each, on the
        stack's port. Another pool (the widgets' own, say) takes its own `port`, sizes and
        `nice` level. Returns the port."""
        port = port or self.port
        output = self._output(name)
        self.processes.append(
            subprocess.Popen(
                [
                    *(["nice", "-n", str(nice)] if nice else []),
                    str(VENV_BIN / "gunicorn"),
                    "-c",
                    "config/gunicorn.py",
                    "config.wsgi",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(workers or self.web_workers),
                    "--threads",
                    str(threads or self.web_threads),
                    "--log-level",
                    "debug" if output else "warning",
                ],
                cwd=ROOT,
                # The access log (one line per request) only when someone reads it.
                env={**self.env, "GUNICORN_ACCESS_LOG": "-" if output else ""},
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
            )
        )
        if output:
            output.close()
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok,
            timeout=90,
            what=name,
        )
        return port

    def start_worker(
        self,
        *,
        concurrency: int = 1,
        queues: str | None = "default,ingest,game,webhooks",
        prefork: bool = False,
    ) -> subprocess.Popen[bytes]:
        """A Celery worker; `queues=None` starts it the plain way, without -Q. One process
        (`--pool solo`) unless `concurrency` > 1 or `prefork`: then a parent and its pool."""
        pool = (
            ["--pool", "solo"]
            if concurrency == 1 and not prefork
            else ["--concurrency", str(concurrency)]
        )
        output = self._output("worker")
        process = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "worker",
                *(["-Q", queues] if queues else []),
                # No gossip, mingle or heartbeat events: fewer broker connections
                # to lose and re-establish.
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *pool,
                "--loglevel",
                "DEBUG" if output else "WARNING",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,  # its own process group: kill() takes its pool with it
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
        if output:
            output.close()
        self.processes.append(process)
        return process

    def start_beat(self, log: Path | None = None) -> subprocess.Popen[bytes]:
        """`celery -A config beat` (django-celery-beat's database scheduler), logging at INFO
        to `log` when given, so that a test can count what it sent."""
        output = open(log, "ab") if log else self._output("beat")  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--pidfile",
                "",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
        if output:
            output.close()
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL to the process and its process group (a worker's pool): no cleanup, no
        ack, no goodbye — what an OOM kill or a lost machine does."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=15)
        self.processes.remove(process)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        self.processes.clear()
