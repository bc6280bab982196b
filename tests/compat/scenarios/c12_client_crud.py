"""The async client's CRUD, nested filters, sorts, pagination, counts and deletes."""

import asyncio
import uuid

from _support import RUN_ID, check, client, filters, run, sorting

PREFIX = f"compat-c12-{RUN_ID}"


async def scenario():
    async with client() as api:
        flow_ids = [await api.create_flow_from_name(f"{PREFIX}-{i}") for i in range(3)]
        check(await api.create_flow_from_name(f"{PREFIX}-0") == flow_ids[0], "flow get-or-create made a second flow")
        by_name = filters.FlowFilter(name=filters.FlowFilterName(like_=PREFIX))
        flows = await api.read_flows(flow_filter=by_name, sort=sorting.FlowSort.NAME_DESC, limit=2, offset=1)
        check([f.name for f in flows] == [f"{PREFIX}-1", f"{PREFIX}-0"], f"sorted page {[f.name for f in flows]}")
        counted = await api._client.post("/flows/count", json={"flows": by_name.dict(json_compatible=True)})
        check(counted.json() == 3, f"flow count {counted.json()}")

        made = []
        for i, flow_id in enumerate(flow_ids):
            response = await api._client.post(
                "/flow_runs/", json={"flow_id": str(flow_id), "name": f"{PREFIX}-run-{i}", "tags": ["compat", f"n{i}"]}
            )
            response.raise_for_status()
            made.append(uuid.UUID(response.json()["id"]))
        tagged = filters.FlowRunFilter(tags=filters.FlowRunFilterTags(all_=["compat", "n1"]))
        found = await api.read_flow_runs(flow_filter=by_name, flow_run_filter=tagged)
        check([r.id for r in found] == [made[1]], "nested flow + flow-run filter")
        ordered = await api.read_flow_runs(flow_filter=by_name, sort=sorting.FlowRunSort.NAME_ASC)
        check([r.name for r in ordered] == [f"{PREFIX}-run-{i}" for i in range(3)], "flow run sort")
        task_run = await api._client.post(
            "/task_runs/", json={"flow_run_id": str(made[0]), "task_key": "t", "dynamic_key": "0"}
        )
        task_run.raise_for_status()
        tasks = await api.read_task_runs(
            flow_run_filter=filters.FlowRunFilter(id=filters.FlowRunFilterId(any_=[made[0]]))
        )
        check(len(tasks) == 1, "task run filter")

        await api.create_concurrency_limit(tag=f"{PREFIX}-tag", concurrency_limit=3)
        limit = await api.read_concurrency_limit_by_tag(f"{PREFIX}-tag")
        check(limit.concurrency_limit == 3, "concurrency limit")
        check(
            any(item.tag == f"{PREFIX}-tag" for item in await api.read_concurrency_limits(limit=200, offset=0)),
            "limit listing",
        )
        await api.delete_concurrency_limit_by_tag(f"{PREFIX}-tag")

        queue = await api.create_work_queue(name=f"{PREFIX}-queue")
        check((await api.read_work_queue_by_name(f"{PREFIX}-queue")).id == queue.id, "work queue by name")
        await api.update_work_queue(queue.id, is_paused=True)
        check((await api.read_work_queue(queue.id)).is_paused, "work queue update")
        await api.delete_work_queue_by_id(queue.id)

        deployment_id = await api.create_deployment(flow_id=flow_ids[0], name=f"{PREFIX}-dep", tags=["compat"])
        check((await api.read_deployment(deployment_id)).name == f"{PREFIX}-dep", "read deployment")
        by_tag = filters.DeploymentFilter(tags=filters.DeploymentFilterTags(all_=["compat"]))
        check(
            [d.id for d in await api.read_deployments(flow_filter=by_name, deployment_filter=by_tag)]
            == [deployment_id],
            "deployment filter",
        )
        check((await api.read_deployment_by_name(f"{PREFIX}-0/{PREFIX}-dep")).id == deployment_id, "deployment by name")
        await api.delete_deployment(deployment_id)

        from prefect.blocks.system import Secret

        await Secret(value=f"s3cr3t-{RUN_ID}").save(f"{PREFIX}-secret".lower(), overwrite=True)
        loaded = await Secret.load(f"{PREFIX}-secret".lower())
        check(loaded.get() == f"s3cr3t-{RUN_ID}", "secret block round trip")
        documents = await api.read_block_documents()  # the client asks for secrets
        mine = [d for d in documents if d.name == f"{PREFIX}-secret".lower()]
        check(mine, "the secret block is not listed")
        hidden = await api._client.post("/block_documents/filter", json={})  # without include_secrets
        values = [d["data"].get("value") for d in hidden.json() if d["name"] == f"{PREFIX}-secret".lower()]
        check(values and values[0] != f"s3cr3t-{RUN_ID}", f"secret not obfuscated: {values}")
        await api.delete_block_document(mine[0].id)

        await api.delete_flow_run(made[2])
        remaining = await api.read_flow_runs(flow_filter=by_name)
        check(made[2] not in [r.id for r in remaining], "deleted run still listed")
        (await api._client.delete(f"/flows/{flow_ids[2]}")).raise_for_status()
        check(len(await api.read_flows(flow_filter=by_name)) == 2, "deleted flow still listed")
        return f"flows={len(flow_ids)} runs={len(made)}"


def main():
    return asyncio.run(scenario())


if __name__ == "__main__":
    run(main)
