"""A small client for the Dagster webserver's GraphQL API, as the UI uses it."""

import time
from dataclasses import dataclass
from typing import Any

import httpx

LOCATION = "bitso_platform"
REPOSITORY = "__repository__"
DONE = {"SUCCESS", "FAILURE", "CANCELED"}


class GraphQLError(AssertionError):
    pass


@dataclass
class Dagster:
    url: str  # e.g. http://127.0.0.1:3333/graphql

    def query(self, text: str, **variables: Any) -> dict[str, Any]:
        response = httpx.post(self.url, json={"query": text, "variables": variables}, timeout=60)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        return body["data"]

    def selector(self, **names: str) -> dict[str, str]:
        return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, **names}

    def launch_run(
        self,
        *,
        job: str = "__ASSET_JOB",
        assets: list[list[str]] | None = None,
        checks: list[tuple[list[str], str]] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        selector = self.selector(jobName=job)
        if assets is not None:
            selector["assetSelection"] = [{"path": path} for path in assets]
        if checks is not None:
            selector["assetCheckSelection"] = [
                {"assetKey": {"path": path}, "name": name} for path, name in checks
            ]
        data = self.query(
            """
            mutation($params: ExecutionParams!) {
              launchRun(executionParams: $params) {
                __typename
                ... on LaunchRunSuccess { run { runId } }
                ... on Error { message }
              }
            }""",
            params={
                "selector": selector,
                "runConfigData": {},
                "executionMetadata": {
                    "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]
                },
            },
        )["launchRun"]
        if data["__typename"] != "LaunchRunSuccess":
            raise GraphQLError(data)
        return data["run"]["runId"]

    def run_status(self, run_id: str) -> str:
        data = self.query(
            "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", id=run_id
        )
        return data["runOrError"]["status"]

    def wait_for_run(self, run_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while (status := self.run_status(run_id)) not in DONE:
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {status} after {timeout}s")
            time.sleep(1)
        return status

    def asset_checks(self) -> list[tuple[list[str], str]]:
        data = self.query(
            """
            query {
              assetNodes {
                assetKey { path }
                assetChecksOrError { ... on AssetChecks { checks { name } } }
              }
            }"""
        )
        return [
            (node["assetKey"]["path"], check["name"])
            for node in data["assetNodes"]
            for check in node["assetChecksOrError"].get("checks", [])
        ]

    def check_results(self, run_id: str) -> list[tuple[str, str, bool]]:
        """(asset, check, passed) of every check evaluation recorded in a run."""
        data = self.query(
            """
            query($id: ID!) {
              logsForRun(runId: $id, limit: 10000) {
                ... on EventConnection {
                  events {
                    __typename
                    ... on AssetCheckEvaluationEvent {
                      evaluation { assetKey { path } checkName success }
                    }
                  }
                }
              }
            }""",
            id=run_id,
        )
        return [
            (
                "/".join(e["evaluation"]["assetKey"]["path"]),
                e["evaluation"]["checkName"],
                e["evaluation"]["success"],
            )
            for e in data["logsForRun"]["events"]
            if e["__typename"] == "AssetCheckEvaluationEvent"
        ]
