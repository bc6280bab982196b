"""2.20: a flow creates markdown, table and link artifacts and reads and sets `Variable`s;
the artifacts are recorded against its run and the latest per key is the newest."""

import asyncio

from _support import RUN_ID, check, client, filters, run
from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.variables import Variable

KEY = f"report-{RUN_ID}".lower().replace("_", "-")
NAME = f"compat_c15_{RUN_ID}".lower().replace("-", "_")


@task
def tabulate(rows):
    return create_table_artifact(table=rows, key=f"{KEY}-table", description="rows")


@flow(name=f"compat-c15-{RUN_ID}")
def reporting():
    threshold = Variable.get(NAME)
    create_markdown_artifact(markdown=f"# threshold {threshold.value}", key=KEY)
    create_markdown_artifact(markdown="# second version", key=KEY)
    tabulate([{"a": 1, "b": 2}, {"a": 3, "b": 4}])
    create_link_artifact(link="https://example.com/report", link_text="report")
    Variable.set(NAME, "20", overwrite=True)
    return Variable.get(NAME).value


async def recorded(flow_run_id):
    async with client() as api:
        artifacts = await api.read_artifacts(
            flow_run_filter=filters.FlowRunFilter(id=filters.FlowRunFilterId(any_=[flow_run_id]))
        )
        latest = await api.read_latest_artifacts(
            artifact_filter=filters.ArtifactCollectionFilter(key=filters.ArtifactCollectionFilterKey(any_=[KEY]))
        )
        variable = await api.read_variable_by_name(NAME)
        return artifacts, latest, variable


async def cleanup():
    async with client() as api:
        await api.delete_variable_by_name(NAME)


def main():
    Variable.set(NAME, "10", overwrite=True)
    state = reporting(return_state=True)
    check(state.type.value == "COMPLETED", f"state {state.type}")
    check(state.result() == "20", f"variable after set: {state.result()!r}")
    artifacts, latest, variable = asyncio.run(recorded(state.state_details.flow_run_id))
    types = sorted(artifact.type for artifact in artifacts)
    # The 2.20 client stores a link artifact as markdown.
    check(types == ["markdown", "markdown", "markdown", "table"], f"artifact types {types}")
    check(len(latest) == 1 and latest[0].data == "# second version", f"latest {latest}")
    check(variable.value == "20", f"stored variable {variable}")
    table = next(artifact for artifact in artifacts if artifact.type == "table")
    check(table.task_run_id is not None, "the table artifact was not linked to its task run")
    asyncio.run(cleanup())
    return f"{len(artifacts)} artifacts, latest of {KEY} is the newest, variable set to 20"


if __name__ == "__main__":
    run(main)
