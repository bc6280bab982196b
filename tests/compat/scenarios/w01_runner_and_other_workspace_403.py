"""Under a workspace with least-privilege keys (run.py --workspace): a stock client with
the workspace's runner key may create a flow but gets 403 deleting it, and a key of
another workspace gets 403 under this workspace's URL; the flow is still there."""

import os
import uuid

import httpx
from _support import RUN_ID, check, client, run


async def status_of(request) -> int:
    """The status a client call answered (the clients raise on 4xx)."""
    try:
        response = await request
    except httpx.HTTPStatusError as error:
        return error.response.status_code
    return response.status_code


async def main():
    other_key = os.environ.get("COMPAT_OTHER_WORKSPACE_KEY")
    check(os.environ.get("PREFECT_API_KEY") and other_key, "run this scenario with run.py --workspace")
    check("/api/workspaces/" in os.environ.get("PREFECT_API_URL", ""), "PREFECT_API_URL is not a workspace's")
    async with client() as api:
        flow_id = await api.create_flow_from_name(f"compat-w01-{RUN_ID}")
        deleted = await status_of(api._client.delete(f"/flows/{flow_id}"))
        check(deleted == 403, f"a runner key deleting a flow answered {deleted}")
        check((await api.read_flow(flow_id)).id == flow_id, "the flow is gone after a refused delete")
    # Another workspace's key, sent as the clients send keys, to this workspace's URL.
    headers = {"Authorization": f"Bearer {other_key}"}
    async with httpx.AsyncClient(base_url=os.environ["PREFECT_API_URL"], headers=headers, timeout=30) as other:
        for method, path, body in (
            ("GET", f"/flows/{flow_id}", None),
            ("POST", "/flows/filter", {}),
            ("POST", "/flows/", {"name": f"compat-w01-{uuid.uuid4().hex}"}),
        ):
            answered = (await other.request(method, path, json=body)).status_code
            check(answered == 403, f"another workspace's key: {method} {path} answered {answered}")
    return "runner delete 403, other workspace's key 403 (read, filter, create)"


if __name__ == "__main__":
    run(main)
