"""The hostile phase of the fuzz run: extreme values, read-backs and raw HTTP, against the real server.

Schemathesis (``fuzz.py``) walks every operation of the document; this phase goes where a
schema-driven walk does not:

* **known repros**: every input of issue #19 that once answered 500 or did the wrong thing,
  sent as is on every run;
* **hostile creates** (stateful): flow runs, deployments, task runs, block documents,
  artifacts, variables and logs created with deeply nested, huge-integer, NUL and long
  values in their free-form fields and extreme datetimes and numbers in the rest; each
  create that succeeds is read back by id and listed by ``/filter`` (no 5xx, values equal);
* **hostile reads**: filters, histories, scheduling and paging with extreme datetimes,
  numbers and ``like_`` patterns;
* **raw HTTP**: chunked bodies (a filter, a create, a ``bulk_delete`` naming one run: only
  that run goes), bodies over the size limit (413, declared or chunked), malformed JSON
  (422 naming where).

Generation is hypothesis with a fixed seed, so a bounded run repeats its cases. A finding
is collected, not raised, so one run reports every distinct one.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.stress import hostile
from tests.stress.readback import POSITION, Answer, Client, readback_problems

# A traceback's frames in the project's own code (not the standard library or the
# virtualenv) and its closing line.
PROJECT_FRAME = re.compile(
    r'File "(?![^"]*(?:site-packages|/lib/python3))[^"]*/([a-z_0-9]+/[a-z_0-9]+\.py)", line \d+, in (\w+)'
)
EXCEPTION_LINE = re.compile(r"^((?:[a-z_]+\.)*[A-Z]\w*(?:Error|Exception)\b.*)$", re.MULTILINE)
READ_ROUTE = re.compile(r"/(filter|count|history|get_runs|get_scheduled_flow_runs)$")


@dataclass
class Findings:
    """Distinct findings: one per kind (a 5xx's kind is the error the server logged), each
    with the routes that showed it and the first request that did."""

    first: dict[str, str] = field(default_factory=dict)
    routes: dict[str, list[str]] = field(default_factory=dict)
    cases: int = 0

    def add(self, kind: str, request: str, route: str = "") -> None:
        self.first.setdefault(kind, request)
        routes = self.routes.setdefault(kind, [])
        if route and route not in routes:
            routes.append(route)

    def report(self) -> list[str]:
        return [
            f"{kind}{' on ' + ', '.join(self.routes[kind]) if self.routes[kind] else ''}\n      first: {request}"
            for kind, request in self.first.items()
        ]


def describe(method: str, path: str, body: Any) -> str:
    """A request, shortened for the report (a deep value is named by its depth)."""
    if body is None:
        return f"{method} {path}"
    depth = hostile.depth_of(body)
    text = json.dumps(body)[:300] if depth < 50 else f"<body nested {depth} levels>"
    return f"{method} {path} {text}"


class HostilePhase:
    """The hostile phase against one running server."""

    def __init__(
        self, base_url: str, paths: dict[str, Any], *, seed_value: int, deadline: float, log: Path | None = None
    ) -> None:
        self.client = Client(base_url)
        self.log = log
        self.log_offset = log.stat().st_size if log and log.exists() else 0
        self.paths = paths
        self.seed = seed_value
        self.deadline = deadline
        self.findings = Findings()
        self.fixtures: dict[str, str] = {}

    # -- one case ------------------------------------------------------------------------
    def check(self, method: str, path: str, body: Any = None, *, collection: str | None = None) -> Answer:
        """Send, record a 5xx, and read back a successful create of ``collection``."""
        self.findings.cases += 1
        answer = self.client.send(method, path, body)
        route = re.sub(r"[0-9a-f-]{36}", "{id}", path.split("?")[0])
        if answer.status >= 500:
            self.findings.add(f"{answer.status}{self.cause()}", describe(method, path, body), f"{method} {route}")
        elif answer.status == 409 and (method == "GET" or READ_ROUTE.search(route)):
            # A read conflicts with nothing: a 409 there is an error mapped to the wrong answer.
            self.findings.add(f"a read answered 409: {answer.text[:120]}", describe(method, path, body), route)
        elif collection and answer.status in (200, 201):
            for kind, detail in readback_problems(self.client, self.paths, collection, body, answer.body):
                self.findings.add(kind, f"{describe(method, path, body)}\n      {detail}")
        return answer

    def cause(self) -> str:
        """The last unhandled error the server logged since the previous call: where and what."""
        if self.log is None or not self.log.exists():
            return ""
        with self.log.open("rb") as handle:
            handle.seek(self.log_offset)
            text = handle.read().decode(errors="replace")
            self.log_offset = handle.tell()
        places = PROJECT_FRAME.findall(text)
        errors = EXCEPTION_LINE.findall(text)
        if not errors:
            return ""
        place = f" in {places[-1][0]}:{places[-1][1]}" if places else ""
        return f": {re.sub(r'[0-9]+', 'N', errors[-1])[:120]}{place}"

    def expect(self, condition: bool, kind: str, request: str) -> None:
        self.findings.cases += 1
        if not condition:
            self.findings.add(kind, request)

    # -- fixtures ------------------------------------------------------------------------
    def created_id(self, path: str, body: Any) -> str:
        answer = self.client.send("POST", path, body)
        if answer.status not in (200, 201):
            raise RuntimeError(f"setting up the hostile phase: POST {path} answered {answer.status}: {answer.text}")
        return str(answer.body["id"])

    def setup(self) -> None:
        tag = uuid.uuid4().hex[:8]
        flow = self.created_id("/flows/", {"name": f"hostile-{tag}"})
        block_type = self.created_id("/block_types/", {"name": f"hostile-{tag}", "slug": f"hostile-{tag}"})
        self.fixtures = {
            "flow": flow,
            "flow_run": self.created_id("/flow_runs/", {"flow_id": flow}),
            "deployment": self.created_id(
                "/deployments/", {"name": f"hostile-{tag}", "flow_id": flow, "schedule": {"interval": 3600}}
            ),
            "work_queue": self.created_id("/work_queues/", {"name": f"hostile-{tag}"}),
            "block_type": block_type,
            "block_schema": self.created_id(
                "/block_schemas/", {"fields": {"properties": {}}, "block_type_id": block_type, "capabilities": []}
            ),
        }

    # -- the known repros of issue #19 ---------------------------------------------------
    def known_repros(self) -> None:
        fx = self.fixtures
        deep = hostile.nested(300, 1, "dict")
        self.check("POST", "/flow_runs/", {"flow_id": fx["flow"], "parameters": deep}, collection="/flow_runs")
        self.check("POST", "/flow_runs/filter", {})
        for when in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", 1e20):
            self.check("POST", "/flow_runs/filter", {"flow_runs": {"start_time": {"after_": when}}})
            self.check("POST", "/flow_runs/filter", {"flow_runs": {"expected_start_time": {"before_": when}}})
            self.check(
                "POST",
                "/flow_runs/",
                {"flow_id": fx["flow"], "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": when}}},
                collection="/flow_runs",
            )
        self.check(
            "POST",
            "/deployments/",
            {"name": "interval-1e30", "flow_id": fx["flow"], "schedule": {"interval": 1e30}},
            collection="/deployments",
        )
        self.check("POST", f"/deployments/{fx['deployment']}/schedule", {"start_time": 7e278})
        self.check("POST", "/flows/filter", {"flows": {"name": {"like_": "a" * 50_001}}})
        self.check("POST", "/flow_runs/", {"flow_id": fx["flow"], "parameters": hostile.nested(1000, "\x00", "list")})
        self.check("GET", "/flows/?offset=1e20")
        self.check("GET", f"/flows/?offset={10**20}")
        sent = {"flow_id": fx["flow"], "parameters": {"big": 10**40, "small": -(10**40)}}
        self.check("POST", "/flow_runs/", sent, collection="/flow_runs")

    # -- generated cases -----------------------------------------------------------------
    def creates(self) -> st.SearchStrategy[tuple[str, str, Any, str | None]]:
        """(method, path, body, collection to read back from) of hostile creates."""
        fx = self.fixtures
        H, D, N = hostile.hostile_json(), hostile.hostile_datetimes(), hostile.hostile_numbers()
        name = st.uuids().map(lambda value: value.hex)
        flow_run = st.fixed_dictionaries(
            {"flow_id": st.just(fx["flow"])},
            optional={
                "parameters": H,
                "context": H,
                "empirical_policy": st.fixed_dictionaries({"retries": N, "retry_delay": N}),
                "state": st.fixed_dictionaries(
                    {"type": st.just("SCHEDULED"), "state_details": st.fixed_dictionaries({"scheduled_time": D})}
                ),
                "tags": st.lists(hostile.hostile_scalars().map(str), max_size=3),
            },
        )
        deployment = st.fixed_dictionaries(
            {"name": name, "flow_id": st.just(fx["flow"])},
            optional={
                "parameters": H,
                "infra_overrides": H,
                "schedule": st.one_of(
                    st.fixed_dictionaries({"interval": N}, optional={"anchor_date": D}),
                    st.fixed_dictionaries({"cron": st.just("* * * * *")}, optional={"timezone": st.just("UTC")}),
                ),
            },
        )
        task_run = st.fixed_dictionaries(
            {"flow_run_id": st.just(fx["flow_run"]), "task_key": name, "dynamic_key": st.just("0")},
            optional={"cache_expiration": D, "empirical_policy": st.fixed_dictionaries({"retry_delay_seconds": N})},
        )
        block_document = st.fixed_dictionaries(
            {
                "name": name,
                "data": H,
                "block_type_id": st.just(fx["block_type"]),
                "block_schema_id": st.just(fx["block_schema"]),
            }
        )
        artifact = st.fixed_dictionaries({"data": H}, optional={"key": name, "flow_run_id": st.just(fx["flow_run"])})
        variable = st.fixed_dictionaries({"name": name.map(lambda text: f"v{text}"), "value": H})
        logs = st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.just("hostile"),
                    "level": N,
                    "message": hostile.hostile_scalars().map(str),
                    "timestamp": D,
                    "flow_run_id": st.just(fx["flow_run"]),
                }
            ),
            min_size=1,
            max_size=2,
        )
        from_deployment = st.fixed_dictionaries({}, optional={"parameters": H, "context": H})
        return st.one_of(
            flow_run.map(lambda body: ("POST", "/flow_runs/", body, "/flow_runs")),
            deployment.map(lambda body: ("POST", "/deployments/", body, "/deployments")),
            task_run.map(lambda body: ("POST", "/task_runs/", body, "/task_runs")),
            block_document.map(lambda body: ("POST", "/block_documents/", body, "/block_documents")),
            artifact.map(lambda body: ("POST", "/artifacts/", body, "/artifacts")),
            variable.map(lambda body: ("POST", "/variables/", body, "/variables")),
            logs.map(lambda body: ("POST", "/logs/", body, None)),
            from_deployment.map(
                lambda body: ("POST", f"/deployments/{fx['deployment']}/create_flow_run", body, "/flow_runs")
            ),
        )

    def reads(self) -> st.SearchStrategy[tuple[str, str, Any, str | None]]:
        """(method, path, body, None) of reads with extreme datetimes, numbers and patterns."""
        fx = self.fixtures
        D, N = hostile.hostile_datetimes(), hostile.hostile_numbers()
        window = st.fixed_dictionaries({}, optional={"before_": D, "after_": D})
        run_filter = st.fixed_dictionaries(
            {},
            optional={
                "start_time": window,
                "expected_start_time": window,
                "next_scheduled_start_time": window,
                "name": st.fixed_dictionaries({"like_": hostile.long_patterns()}),
            },
        )
        listing = st.fixed_dictionaries({}, optional={"flow_runs": run_filter, "offset": N, "limit": N})
        history = st.fixed_dictionaries(
            {"history_start": D, "history_end": D, "history_interval_seconds": N}, optional={"flow_runs": run_filter}
        )
        schedule = st.fixed_dictionaries(
            {}, optional={"start_time": D, "end_time": D, "min_time": N, "min_runs": N, "max_runs": N}
        )
        names = st.fixed_dictionaries(
            {"flows": st.fixed_dictionaries({"name": st.fixed_dictionaries({"like_": hostile.long_patterns()})})}
        )
        return st.one_of(
            listing.map(lambda body: ("POST", "/flow_runs/filter", body, None)),
            listing.map(
                lambda body: ("POST", "/task_runs/filter", {"task_runs": body.pop("flow_runs", {}), **body}, None)
            ),
            history.map(lambda body: ("POST", "/flow_runs/history", body, None)),
            schedule.map(lambda body: ("POST", f"/deployments/{fx['deployment']}/schedule", body, None)),
            st.fixed_dictionaries({}, optional={"scheduled_before": D, "limit": N}).map(
                lambda body: ("POST", f"/work_queues/{fx['work_queue']}/get_runs", body, None)
            ),
            names.map(lambda body: ("POST", "/flows/filter", body, None)),
            st.tuples(N, N).map(lambda pair: ("GET", f"/flows/?offset={pair[0]}&limit={pair[1]}", None, None)),
        )

    def generated(self, examples: int) -> None:
        """Hostile creates (read back) and reads, ``examples`` of them, seeded."""

        @seed(self.seed)
        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(st.one_of(self.creates(), self.reads()))
        def run(case: tuple[str, str, Any, str | None]) -> None:
            if time.monotonic() < self.deadline:
                method, path, body, collection = case
                self.check(method, path, body, collection=collection)

        run()

    # -- raw HTTP ------------------------------------------------------------------------
    def raw_http(self, limit_bytes: int) -> None:
        """Chunked bodies, bodies over the limit, malformed JSON."""
        client, fx = self.client, self.fixtures
        missing = {"flows": {"name": {"any_": [f"absent-{uuid.uuid4().hex}"]}}}
        listed = client.send("POST", "/flows/filter", missing, chunked=True)
        self.expect(
            listed.status == 200 and listed.body == [],
            f"a chunked filter is not applied ({listed.status}, {str(listed.body)[:100]})",
            describe("POST", "/flows/filter (chunked)", missing),
        )
        name = f"chunked-{uuid.uuid4().hex[:8]}"
        created = client.send("POST", "/flows/", {"name": name}, chunked=True)
        self.expect(
            created.status in (200, 201) and isinstance(created.body, dict) and created.body.get("name") == name,
            f"a chunked create is not read ({created.status}, {created.text[:100]})",
            describe("POST", "/flows/ (chunked)", {"name": name}),
        )
        runs = [self.created_id("/flow_runs/", {"flow_id": fx["flow"]}) for _ in range(3)]
        one = {"flow_runs": {"id": {"any_": [runs[0]]}}}
        deleted = client.send("POST", "/flow_runs/bulk_delete", one, chunked=True)
        survivors = [run for run in runs[1:] if client.send("GET", f"/flow_runs/{run}").status == 200]
        self.expect(
            deleted.status < 500 and survivors == runs[1:],
            f"a chunked bulk_delete naming one run deleted {3 - 1 - len(survivors)} others ({deleted.text[:100]})",
            describe("POST", "/flow_runs/bulk_delete (chunked)", one),
        )
        for _ in range(2):
            self.created_id("/flow_runs/", {"flow_id": fx["flow"]})
        before = client.send("POST", "/flow_runs/count", {}).body
        bare = client.send("POST", "/flow_runs/bulk_delete", raw=b"")
        after = client.send("POST", "/flow_runs/count", {}).body
        self.expect(
            bare.status < 500 and before == after,
            f"a bulk_delete without a body answered {bare.status} and took the runs from {before} to {after}",
            "POST /flow_runs/bulk_delete (no body)",
        )
        oversized = b'{"name": "' + b"x" * (limit_bytes + 1) + b'"}'
        for chunked in (False, True):
            answer = client.send("POST", "/flows/", raw=oversized, chunked=chunked)
            self.expect(
                answer.status == 413,
                f"a body over the limit{' (chunked)' if chunked else ''} answered {answer.status}, not 413",
                f"POST /flows/ with {len(oversized)} bytes{' chunked' if chunked else ''}",
            )
        for broken in (b'{"name": "x",}', b'{"name": ', b"{'name': 'x'}", b'{"name": "x"} trailing', b"\xff\xfe"):
            answer = client.send("POST", "/flows/", raw=broken)
            self.expect(
                answer.status == 422 and POSITION.search(answer.text) is not None,
                f"malformed JSON answered {answer.status} without a position: {answer.text[:150]}",
                f"POST /flows/ {broken!r}",
            )

    def run(self, *, examples: int, limit_bytes: int) -> list[str]:
        """All of it; answers the distinct findings."""
        self.setup()
        self.known_repros()
        self.raw_http(limit_bytes)
        self.generated(examples)
        return self.findings.report()


def run_hostile_phase(
    base_url: str,
    document: dict[str, Any],
    *,
    seed_value: int,
    examples: int,
    max_time: float,
    limit_bytes: int,
    log: Path | None = None,
) -> tuple[int, list[str]]:
    """(cases sent, distinct findings) of the hostile phase against ``base_url``.

    ``log`` is the server's log: a 5xx is then told apart by the error it logged.
    """
    phase = HostilePhase(
        base_url, document["paths"], seed_value=seed_value, deadline=time.monotonic() + max_time, log=log
    )
    findings = phase.run(examples=examples, limit_bytes=limit_bytes)
    return phase.findings.cases, findings
