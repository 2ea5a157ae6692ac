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
                "runConfigData": {},  # as from the UI: the job's own executor
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

    def failures(self, run_id: str) -> list[str]:
        """The messages and errors of a run's failure events, for assertion messages."""
        data = self.query(
            """
            query($id: ID!) {
              logsForRun(runId: $id, limit: 10000) {
                ... on EventConnection {
                  events {
                    __typename
                    ... on MessageEvent { message }
                    ... on ErrorEvent { error { message } }
                  }
                }
              }
            }""",
            id=run_id,
        )
        return [
            f"{e['message']} {(e.get('error') or {}).get('message', '')}".strip()
            for e in data["logsForRun"]["events"]
            if "Failure" in e["__typename"] or e.get("error")
        ]

    def asset_keys(self, group: str) -> list[list[str]]:
        data = self.query("query { assetNodes { assetKey { path } groupName } }")
        return [n["assetKey"]["path"] for n in data["assetNodes"] if n["groupName"] == group]

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
        """(asset, check, passed) of every check evaluation recorded in a run, page by page
        (a range run records one per check and day)."""
        results: list[tuple[str, str, bool]] = []
        cursor, more = None, True
        while more:
            logs = self.query(
                """
                query($id: ID!, $cursor: String) {
                  logsForRun(runId: $id, afterCursor: $cursor, limit: 10000) {
                    ... on EventConnection {
                      cursor
                      hasMore
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
                cursor=cursor,
            )["logsForRun"]
            cursor, more = logs["cursor"], logs["hasMore"]
            results += [
                (
                    "/".join(e["evaluation"]["assetKey"]["path"]),
                    e["evaluation"]["checkName"],
                    e["evaluation"]["success"],
                )
                for e in logs["events"]
                if e["__typename"] == "AssetCheckEvaluationEvent"
            ]
        return results

    def launch_backfill(
        self,
        assets: list[list[str]],
        partitions: list[str],
    ) -> str:
        data = self.query(
            """
            mutation($params: LaunchBackfillParams!) {
              launchPartitionBackfill(backfillParams: $params) {
                __typename
                ... on LaunchBackfillSuccess { backfillId }
                ... on Error { message }
              }
            }""",
            params={
                "assetSelection": [{"path": p} for p in assets],
                "partitionNames": partitions,
                "runConfigData": {},  # as from the UI: the job's own executor
            },
        )["launchPartitionBackfill"]
        if data["__typename"] != "LaunchBackfillSuccess":
            raise GraphQLError(data)
        return data["backfillId"]

    def wait_for_backfill(self, backfill_id: str, timeout: float = 1800) -> str:
        query = """
            query($id: String!) {
              partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } }
            }"""
        deadline = time.monotonic() + timeout
        while True:
            status = self.query(query, id=backfill_id)["partitionBackfillOrError"]["status"]
            if status not in ("REQUESTED", "CANCELING", "FAILING"):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill {backfill_id} still {status} after {timeout}s")
            time.sleep(1)

    def runs_tagged(self, key: str, value: str) -> list[dict[str, Any]]:
        """runId, status and tags (a dict) of every run with the tag."""
        data = self.query(
            """
            query($tags: [ExecutionTag!]) {
              runsOrError(filter: {tags: $tags}) {
                ... on Runs { results { runId status tags { key value } } }
              }
            }""",
            tags=[{"key": key, "value": value}],
        )
        runs = data["runsOrError"]["results"]
        return [{**run, "tags": {t["key"]: t["value"] for t in run["tags"]}} for run in runs]

    def backfill_runs(self, backfill_id: str, first: str, last: str) -> list[dict[str, Any]]:
        """The backfill's runs, each asserted to cover the whole range first..last in one run
        (the running marts, which depend on their own previous day, run apart from the rest:
        Dagster runs a self-dependent asset in runs of its own)."""
        runs = self.runs_tagged("dagster/backfill", backfill_id)
        for run in runs:
            tags = run["tags"]
            assert (
                tags.get("dagster/asset_partition_range_start"),
                tags.get("dagster/asset_partition_range_end"),
            ) == (first, last), f"run {run['runId']} does not cover {first}..{last}: {tags}"
        return runs

    def start_schedule(self, name: str) -> str:
        data = self.query(
            """
            mutation($selector: ScheduleSelector!) {
              startSchedule(scheduleSelector: $selector) {
                __typename
                ... on ScheduleStateResult { scheduleState { status } }
                ... on Error { message }
              }
            }""",
            selector=self.selector(scheduleName=name),
        )["startSchedule"]
        if data["__typename"] != "ScheduleStateResult":
            raise GraphQLError(data)
        return data["scheduleState"]["status"]

    def schedule_dry_run(self, name: str, timestamp: float) -> list[dict[str, Any]]:
        """The run requests the schedule makes at `timestamp`, evaluated by the code server."""
        data = self.query(
            """
            mutation($selector: ScheduleSelector!, $timestamp: Float) {
              scheduleDryRun(selectorData: $selector, timestamp: $timestamp) {
                __typename
                ... on DryRunInstigationTick {
                  evaluationResult {
                    runRequests { runKey tags { key value } }
                    error { message }
                  }
                }
                ... on Error { message }
              }
            }""",
            selector=self.selector(scheduleName=name),
            timestamp=timestamp,
        )["scheduleDryRun"]
        result = data.get("evaluationResult") or {}
        if data["__typename"] != "DryRunInstigationTick" or result.get("error"):
            raise GraphQLError(data)
        return result["runRequests"]

    def start_sensor(self, name: str) -> str:
        data = self.query(
            """
            mutation($selector: SensorSelector!) {
              startSensor(sensorSelector: $selector) {
                __typename
                ... on Sensor { sensorState { status } }
                ... on Error { message }
              }
            }""",
            selector=self.selector(sensorName=name),
        )["startSensor"]
        if data["__typename"] != "Sensor":
            raise GraphQLError(data)
        return data["sensorState"]["status"]

    def sensor_ticks(self, name: str) -> list[dict[str, Any]]:
        data = self.query(
            """
            query($selector: SensorSelector!) {
              sensorOrError(sensorSelector: $selector) {
                ... on Sensor { sensorState { ticks(limit: 50) { status cursor } } }
              }
            }""",
            selector=self.selector(sensorName=name),
        )
        return data["sensorOrError"]["sensorState"]["ticks"]

    def daemon_health(self) -> dict[str, bool]:
        data = self.query(
            """
            query { instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }"""
        )
        return {
            d["daemonType"]: bool(d["healthy"])
            for d in data["instance"]["daemonHealth"]["allDaemonStatuses"]
        }
