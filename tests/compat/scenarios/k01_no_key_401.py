"""With ORION_AUTH=api-key, a stock client without PREFECT_API_KEY gets 401 (the runner
starts this scenario with no key); the health probe still answers."""

import os

import httpx
from _support import check, client, run


async def main():
    check(not os.environ.get("PREFECT_API_KEY"), "the runner passed a key to the no-key scenario")
    async with client() as api:
        check(await api.api_healthcheck() is None, "the health probe needs no key")
        try:
            await api.read_flows()
        except httpx.HTTPStatusError as error:
            status = error.response.status_code
            check(status == 401, f"read_flows without a key answered {status}")
            detail = error.response.json().get("detail")
            check(isinstance(detail, str) and detail, f"no detail in {error.response.text!r}")
        else:
            check(False, "read_flows without a key succeeded")
    return "401 without a key, health open"


if __name__ == "__main__":
    run(main)
