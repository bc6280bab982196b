"""Run the stock-client compatibility scenarios against a live server.

    python -m tests.compat.run [--db sqlite|postgres|both] [--clients 2.7,2.20] [--only c01,c05]
                               [--auth api-key] [--workspace team-a]
    python -m tests.compat.run --leg sqlite --leg postgres:api-key --leg sqlite:workspace=team-a ...

For each database it starts the server the way the README does (``manage.py migrate`` then
``manage.py orion_start``, with fast service intervals), then runs every scenario in
``scenarios/`` as its own process with the unmodified ``prefect`` package of each client
line (2.7.12 and 2.20.26, installed once into ``.compat-venvs/`` from the pinned
requirement files beside this runner). A scenario prints ``RESULT PASS ...`` or
``RESULT FAIL ...`` as its last line. The last line of this runner is
``compat: N passed, M failed``; the exit status is 0 only when nothing failed.

With ``--auth api-key`` the server runs with ``ORION_AUTH=api-key``, a key is created with
``manage.py orion_api_key create`` (read from the last line it prints) and handed to every
scenario as ``PREFECT_API_KEY``; the ``k*`` scenarios then run without it and expect 401.

With ``--workspace SLUG`` (which implies ``--auth api-key``) the clients work in one
workspace of a shared server with least-privilege keys: ``manage.py orion_workspace
create`` makes SLUG and a second workspace, ``manage.py orion_api_key create NAME
--workspace SLUG --role ROLE`` a ``runner`` and a ``developer`` key of SLUG and a
``runner`` key of the other one, and every scenario gets
``PREFECT_API_URL=http://HOST:PORT/api/workspaces/SLUG``. The flow processes, agents and
workers run with the ``runner`` key; what a deployment's author does (create deployments,
pools, limits, queues; delete them) runs with the ``developer`` key, which the scenarios
find in ``COMPAT_DEVELOPER_KEY`` (``_support.as_developer``). The ``w*`` scenarios check
the refusals: a runner key may not delete, another workspace's key gets 403.

A *leg* is one server configuration: a database, an auth mode and maybe a workspace.
``--db``/``--auth``/``--workspace`` describe one or two legs (``--db both``); ``--leg
DB[:api-key][:workspace=SLUG][:only=c01,c08]`` (repeatable) names each leg instead, so CI
runs every configuration in one invocation. All legs' servers start at once and one pool of
``--jobs`` runs every leg's scenarios, the longest first: a scenario mostly waits on its
server, on an agent's poll or on its own client's start-up, so the legs' waits overlap
instead of each leg's last scenarios running alone. Two PostgreSQL legs get a database each
in the cluster of ``--database-url`` (the second and later are created beside it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
# The pinned client requirements (requirements-2.7.txt, requirements-2.20.txt) sit beside this file.
PINS = Path(__file__).resolve().parent
VENV_DIR = Path(os.environ.get("COMPAT_VENV_DIR", ROOT / ".compat-venvs"))
CLIENTS = {"2.7": "requirements-2.7.txt", "2.20": "requirements-2.20.txt"}
SCENARIO_TIMEOUT = int(os.environ.get("COMPAT_TIMEOUT", "240"))
# A failed scenario runs again this many times (see run_scenario); 0 in a hunt for flakes.
RETRIES = int(os.environ.get("COMPAT_RETRIES", "1"))
# Under --workspace: scenarios whose every request is a developer's, not a flow process's:
# c12 creates and deletes every kind of record, c15's flow writes a variable (a runner
# only reads variables).
DEVELOPER_SCENARIOS = frozenset({"c12", "c15"})
# Under --workspace: the workspace whose runner key must get 403 under SLUG.
OTHER_WORKSPACES = ("team-b", "team-c")


def log(message: str) -> None:
    print(message, flush=True)


def client_python(version: str) -> Path:
    """The interpreter of the client venv, created on first use."""
    venv = VENV_DIR / f"prefect-{version}"
    python = venv / "bin" / "python"
    requirements = PINS / CLIENTS[version]
    marker = venv / ".installed"
    if marker.exists() and marker.read_text() == requirements.read_text():
        return python
    log(f"# installing the prefect {version} client into {venv}")
    shutil.rmtree(venv, ignore_errors=True)
    base = shutil.which("python3.11") or sys.executable
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
        capture_output=True,
        text=True,
    )
    if pip.returncode != 0:
        raise SystemExit(f"could not install the {version} client:\n{pip.stdout[-2000:]}{pip.stderr[-2000:]}")
    marker.write_text(requirements.read_text())
    return python


def log_tail(path: Path, lines: int = 80) -> None:
    """Print the end of a failed scenario's log: CI keeps only this runner's output."""
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError as error:
        log(f"#   (no log: {error})")
        return
    for line in tail:
        log(f"#   | {line}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """The server under test, started as the README starts it."""

    def __init__(self, database_url: str | None, auth: str = "none", workspace: str | None = None) -> None:
        self.port = free_port()
        self.auth = "api-key" if workspace else auth
        self.workspace = workspace
        self.api_key: str | None = None
        # Under --workspace: SLUG's developer key and the other workspace's runner key.
        self.developer_key: str | None = None
        self.other_key: str | None = None
        self.data_dir = tempfile.mkdtemp(prefix="orion-compat-")
        self.env = {
            **os.environ,
            "ORION_DATA_DIR": self.data_dir,
            "ORION_PORT": str(self.port),
            "ORION_SCHEDULER_INTERVAL_SECONDS": "2",
            "ORION_LATE_RUNS_INTERVAL_SECONDS": "2",
            "DJANGO_SECRET_KEY": "compat-suite-" + uuid.uuid4().hex,
            "ORION_AUTH": self.auth,
        }
        self.env.pop("DATABASE_URL", None)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.log_path = Path(self.data_dir) / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def client_api_url(self) -> str:
        """What the clients get as ``PREFECT_API_URL``: the workspace's API under --workspace."""
        return f"{self.api_url}/workspaces/{self.workspace}" if self.workspace else self.api_url

    def manage(self, *args: str) -> str:
        """``manage.py *args`` against this server's database; the last line it prints."""
        python = ROOT / ".venv" / "bin" / "python"
        done = subprocess.run([str(python), "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done.stdout.strip().splitlines()[-1]

    def create_keys(self) -> None:
        """The keys the scenarios use: one of the whole API, or per workspace and role."""
        suffix = uuid.uuid4().hex[:6]
        if self.workspace is None:
            self.api_key = self.manage("orion_api_key", "create", f"compat-{suffix}")
            return
        other = next(slug for slug in OTHER_WORKSPACES if slug != self.workspace)
        for slug in (self.workspace, other):
            self.manage("orion_workspace", "create", slug)
        self.api_key = self.manage(
            "orion_api_key", "create", f"compat-runner-{suffix}", "--workspace", self.workspace, "--role", "runner"
        )
        self.developer_key = self.manage(
            "orion_api_key",
            "create",
            f"compat-developer-{suffix}",
            "--workspace",
            self.workspace,
            "--role",
            "developer",
        )
        self.other_key = self.manage(
            "orion_api_key", "create", f"compat-other-{suffix}", "--workspace", other, "--role", "runner"
        )

    def __enter__(self) -> Server:
        python = ROOT / ".venv" / "bin" / "python"
        subprocess.run([str(python), "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=self.env, check=True)
        if self.auth == "api-key":
            self.create_keys()
        self.log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(python), "manage.py", "orion_start", "--workers", "2", "--threads", "8"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise SystemExit(f"the server did not start; see {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
        self.log_file.close()


def run_scenario(python: Path, scenario: Path, server: Server, log_dir: Path) -> tuple[bool, str]:
    """Run one scenario file, and once more if it fails.

    The scenarios drive real clients, agents and engine processes, whose own start-up
    takes many seconds on a busy machine; a timing failure of theirs is not the server's.
    A failure is therefore retried once, and the first attempt's result and log tail are
    printed all the same, so a flaky scenario shows in the output instead of hiding.
    """
    log_path = log_dir / f"{scenario.stem}.log"
    ok, detail = _run_once(python, scenario, server, log_path)
    for attempt in range(1, RETRIES + 1):
        if ok:
            break
        log(f"# RETRY {scenario.stem} ({python.parent.parent.name}), attempt {attempt} failed: {detail}")
        log_tail(log_path)
        log_path = log_dir / f"{scenario.stem}.retry{attempt}.log"
        ok, detail = _run_once(python, scenario, server, log_path)
        detail = f"{detail} (retry {attempt})"
    if not ok:
        log_tail(log_path)
    return ok, detail


def _run_once(python: Path, scenario: Path, server: Server, log_path: Path) -> tuple[bool, str]:
    """Run one scenario file; the ``k*`` scenarios check refusals, so they get no key.

    Under --workspace a scenario gets the runner key, or the developer key when it is
    one of :data:`DEVELOPER_SCENARIOS`, and always the developer key and the other
    workspace's key in ``COMPAT_DEVELOPER_KEY`` / ``COMPAT_OTHER_WORKSPACE_KEY``."""
    home = tempfile.mkdtemp(prefix="prefect-home-")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "DJANGO_", "ORION_", "DATABASE_URL"))
    }
    env.update(
        PREFECT_API_URL=server.client_api_url,
        PREFECT_HOME=home,
        COMPAT_RUN_ID=uuid.uuid4().hex[:8],
        PYTHONUNBUFFERED="1",
        PYTHONWARNINGS="ignore",
    )
    if server.api_key and not scenario.stem.startswith("k"):
        env["PREFECT_API_KEY"] = server.api_key
    if server.developer_key and server.other_key and not scenario.stem.startswith("k"):
        env.update(COMPAT_DEVELOPER_KEY=server.developer_key, COMPAT_OTHER_WORKSPACE_KEY=server.other_key)
        if scenario.stem.split("_")[0] in DEVELOPER_SCENARIOS:
            env["PREFECT_API_KEY"] = server.developer_key
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("w") as output:
        try:
            code = subprocess.run(
                [str(python), scenario.name],
                cwd=SCENARIOS,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=SCENARIO_TIMEOUT,
                stdin=subprocess.DEVNULL,
            ).returncode
        except subprocess.TimeoutExpired:
            code = 124
    shutil.rmtree(home, ignore_errors=True)
    lines = [line for line in log_path.read_text().splitlines() if line.startswith("RESULT ")]
    result = lines[-1] if lines else f"RESULT FAIL exit {code}, no result line"
    if code == 124:
        result = f"RESULT FAIL timed out after {SCENARIO_TIMEOUT}s"
    took = time.monotonic() - started
    return code == 0 and result.startswith("RESULT PASS"), f"{result[7:]} [{took:.1f}s, {log_path}]"


# Scenarios that take the longest, started first so no leg ends with one of them running
# alone: 250 mapped tasks and a dozen CLI processes (the most CPU), then pausing for input,
# an agent's or a worker's poll, a cancel, an automation.
LONGEST_FIRST = ("c05", "c13", "c17", "c10", "c11", "c07", "c14", "c19", "c09", "c04")


@dataclass(frozen=True)
class Leg:
    """One server configuration the scenarios run against."""

    db: str
    auth: str = "none"
    workspace: str | None = None
    # The ``c*`` scenarios of this leg (``only=c01,c08``); empty: those of ``--only``.
    only: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        """``sqlite``, ``postgres+api-key``, ``sqlite/team-a``: the label of its result lines and logs."""
        if self.workspace:
            return f"{self.db}/{self.workspace}"
        return self.db if self.auth == "none" else f"{self.db}+{self.auth}"

    @classmethod
    def parse(cls, spec: str) -> Leg:
        """``DB[:api-key][:workspace=SLUG][:only=c01,c08]``, e.g. ``postgres:api-key`` or
        ``sqlite:workspace=team-a``."""
        db, *options = spec.split(":")
        if db not in ("sqlite", "postgres"):
            raise argparse.ArgumentTypeError(f"--leg {spec!r}: the database is sqlite or postgres")
        auth, workspace, only = "none", None, frozenset[str]()
        for option in options:
            key, _, value = option.partition("=")
            if option == "api-key":
                auth = "api-key"
            elif key == "workspace" and value:
                workspace = value
            elif key == "only" and value:
                only = frozenset(name.strip() for name in value.split(",") if name.strip())
            else:
                raise argparse.ArgumentTypeError(f"--leg {spec!r}: unknown option {option!r}")
        return cls(db, "api-key" if workspace else auth, workspace, only)

    def scenarios(self, wanted: AbstractSet[str]) -> list[Path]:
        """The ``c*`` scenarios (``--only`` picks among them), plus the ``k*`` refusal checks
        under keys and the ``w*`` ones in a workspace."""
        wanted = self.only or wanted
        chosen = [path for path in sorted(SCENARIOS.glob("c*.py")) if not wanted or path.stem.split("_")[0] in wanted]
        if self.auth == "api-key":
            chosen += sorted(SCENARIOS.glob("k*.py"))
        if self.workspace:
            chosen += sorted(SCENARIOS.glob("w*.py"))
        return chosen


def leg_database_urls(legs: list[Leg], base_url: str | None) -> dict[Leg, str | None]:
    """Each PostgreSQL leg's database: the first uses ``base_url``'s, each later one a fresh
    database created beside it, so two servers never share migrations or records."""
    urls: dict[Leg, str | None] = {}
    postgres = [leg for leg in legs if leg.db == "postgres"]
    if postgres and not base_url:
        raise SystemExit("a postgres leg needs --database-url or COMPAT_DATABASE_URL")
    for index, leg in enumerate(legs):
        if leg.db == "sqlite":
            urls[leg] = None
        elif leg is postgres[0]:
            urls[leg] = base_url
        else:
            urls[leg] = create_database(str(base_url), f"compat_{index}_{uuid.uuid4().hex[:6]}")
    return urls


def create_database(base_url: str, name: str) -> str:
    """``CREATE DATABASE name`` in ``base_url``'s cluster; the URL of the new database."""
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + "/" + name


def start_servers(legs: list[Leg], urls: dict[Leg, str | None], stack: ExitStack) -> dict[Leg, Server]:
    """Every leg's server, started at once (each migrates its own database first); each one
    up is stopped when ``stack`` closes, also when another failed to start."""
    servers: dict[Leg, Server] = {}
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=len(legs)) as starter:
        futures = {
            starter.submit(Server(urls[leg], auth=leg.auth, workspace=leg.workspace).__enter__): leg for leg in legs
        }
        for future in as_completed(futures):
            try:
                servers[futures[future]] = server = future.result()
            except BaseException as error:  # SystemExit too: the started ones must still stop
                errors.append(error)
                continue
            stack.push(server.__exit__)
    if errors:
        raise errors[0]
    return servers


def scenario_jobs(legs: list[Leg], pythons: dict[str, Path], wanted: set[str]) -> list[tuple[Leg, str, Path]]:
    """Every (leg, client, scenario) to run, the longest scenarios first; a ``*_220`` or
    ``*_27`` scenario only with its client line."""
    jobs = [
        (leg, version, scenario)
        for leg in legs
        for version in pythons
        for scenario in leg.scenarios(wanted)
        if not (scenario.stem.endswith("_220") and version != "2.20")
        and not (scenario.stem.endswith("_27") and version != "2.7")
    ]

    def rank(job: tuple[Leg, str, Path]) -> int:
        prefix = job[2].stem.split("_")[0]
        return LONGEST_FIRST.index(prefix) if prefix in LONGEST_FIRST else len(LONGEST_FIRST)

    return sorted(jobs, key=rank)  # stable: legs, clients and file order within a rank


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--database-url", default=os.environ.get("COMPAT_DATABASE_URL"))
    parser.add_argument("--clients", default="2.7,2.20")
    parser.add_argument("--only", default="")
    parser.add_argument(
        "--auth",
        choices=["none", "api-key"],
        default="none",
        help="api-key: the server requires keys, the scenarios send one, k* scenarios check 401",
    )
    parser.add_argument(
        "--workspace",
        default=None,
        help="run the clients in this workspace (/api/workspaces/SLUG) with runner and developer keys; "
        "implies --auth api-key and adds the w* scenarios",
    )
    parser.add_argument(
        "--leg",
        action="append",
        type=Leg.parse,
        default=[],
        metavar="DB[:api-key][:workspace=SLUG][:only=c01,c08]",
        help="a server configuration to run the scenarios against (repeatable; replaces --db/--auth/--workspace)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get("COMPAT_JOBS", "0")),
        help="scenarios run at once over all legs (they mostly wait on the server and on agents); default 4 per leg",
    )
    args = parser.parse_args()

    legs: list[Leg] = args.leg or [
        Leg(db, "api-key" if args.workspace else args.auth, args.workspace)
        for db in (["sqlite", "postgres"] if args.db == "both" else [args.db])
    ]
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    pythons = {version: client_python(version) for version in args.clients.split(",")}
    urls = leg_database_urls(legs, args.database_url)
    jobs = scenario_jobs(legs, pythons, wanted)
    log_dir = Path(tempfile.mkdtemp(prefix="orion-compat-logs-"))
    started = time.monotonic()
    passed = failed = 0
    with ExitStack() as stack:
        servers = start_servers(legs, urls, stack)
        names = ", ".join(leg.name for leg in legs)
        log(f"# {len(jobs)} scenario runs over {names}; servers up after {time.monotonic() - started:.0f}s")
        with ThreadPoolExecutor(max_workers=max(args.jobs or 4 * len(legs), 1)) as pool:
            futures = {
                pool.submit(
                    run_scenario,
                    pythons[version],
                    scenario,
                    servers[leg],
                    log_dir / leg.name.replace("/", "-") / version,
                ): (leg, version, scenario)
                for leg, version, scenario in jobs
            }
            for future in as_completed(futures):
                leg, version, scenario = futures[future]
                ok, detail = future.result()
                log(f"{'PASS' if ok else 'FAIL'} {leg.name} prefect-{version} {scenario.stem}: {detail}")
                passed, failed = passed + ok, failed + (not ok)
    log(f"compat: {passed} passed, {failed} failed in {time.monotonic() - started:.0f}s")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
