"""An automation made with the 2.20 client's own classes ("when a flow run of deployment D
fails, pause D") fires when a run of D fails: the server emits the run's state event, its
trigger evaluator fires, and its action runner pauses D."""

import asyncio
import os
import uuid
import warnings

# The 2.20 client sends automations only to a server it believes serves them.
os.environ["PREFECT_EXPERIMENTAL_EVENTS"] = "true"
os.environ["PREFECT_API_SERVICES_TRIGGERS_ENABLED"] = "true"

from _support import RUN_ID, as_developer, check, client, run, wait_for

FLOW_NAME = f"compat-c18-{RUN_ID}"


async def make_deployment() -> uuid.UUID:
    async with client() as api:
        flow_id = await api.create_flow_from_name(FLOW_NAME)
        return await api.create_deployment(flow_id=flow_id, name="fails-then-paused")


def make_automation(deployment_id: uuid.UUID) -> uuid.UUID:
    from prefect.automations import Automation, EventTrigger, Posture
    from prefect.events.actions import PauseDeployment

    automation = Automation(
        name=f"pause {FLOW_NAME} on failure",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed"},
            match_related={"prefect.resource.id": f"prefect.deployment.{deployment_id}"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[PauseDeployment(source="selected", deployment_id=deployment_id)],
    ).create()
    return automation.id


async def fail_a_run(deployment_id: uuid.UUID) -> uuid.UUID:
    from prefect.states import Failed, Pending, Running

    async with client() as api:
        flow_run = await api.create_flow_run_from_deployment(deployment_id)
        for state in (Pending(), Running(), Failed(message="boom")):
            result = await api.set_flow_run_state(flow_run.id, state)
            check(result.status.value == "ACCEPT", f"{state.type.value} was {result.status.value}")
        return flow_run.id


async def paused(deployment_id: uuid.UUID) -> bool:
    async with client() as api:
        return bool((await api.read_deployment(deployment_id)).paused)


async def failed_event_seen(flow_run_id: uuid.UUID) -> bool:
    async with client() as api:
        response = await api._client.post(
            "/events/filter",
            json={"filter": {"resource": {"id": [f"prefect.flow-run.{flow_run_id}"]}}, "limit": 50},
        )
        return any(event["event"] == "prefect.flow-run.Failed" for event in response.json()["events"])


def main() -> str:
    warnings.simplefilter("ignore")
    with as_developer():
        deployment_id = asyncio.run(make_deployment())
        automation_id = make_automation(deployment_id)
    check(not asyncio.run(paused(deployment_id)), "the new deployment is already paused")
    flow_run_id = asyncio.run(fail_a_run(deployment_id))
    check(asyncio.run(wait_for(lambda: failed_event_seen(flow_run_id), timeout=30)), "no Failed event was recorded")
    check(asyncio.run(wait_for(lambda: paused(deployment_id), timeout=60)), "the automation did not pause D")
    return f"deployment={deployment_id} automation={automation_id} run={flow_run_id}"


if __name__ == "__main__":
    run(main)
