"""A small client for an Unleash server's Admin API: the calls Liftoff needs to drive one project."""

from __future__ import annotations

import logging
from typing import Any

import requests

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0


class UnleashError(Exception):
    """An Admin API call failed; ``step`` names what Liftoff was doing, ``status`` the HTTP status."""

    def __init__(self, message: str, step: str, status: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.step = step
        self.status = status
        self.retryable = retryable


def _describe(status: int, step: str, url: str, body: str) -> tuple[str, bool]:
    detail = body.strip().replace("\n", " ")[:300]
    if status == 401:
        return (f"Unleash rejected the admin token (401) while {step}: "
                "check LIFTOFF_UNLEASH_ADMIN_TOKEN"), False
    if status == 403:
        return (f"the Unleash admin token may not do this (403) while {step}: "
                f"use an admin token with access to the project ({detail})"), False
    if status == 404:
        return f"not found on the Unleash server (404) while {step}: {url} ({detail})", False
    if status >= 500:
        return f"the Unleash server failed ({status}) while {step}: {detail}", True
    return f"Unleash refused the request ({status}) while {step}: {detail}", False


class UnleashAdmin:
    """Admin API client bound to one server, token and project.

    :param url: the server's base URL (without ``/api``)
    :param token: an admin API token
    :param project: the Unleash project the features live in
    :param timeout: seconds allowed for each request
    """

    def __init__(self, url: str, token: str, project: str = "default", timeout: float = DEFAULT_TIMEOUT_S):
        self.url = url.rstrip("/")
        if self.url.endswith("/api"):
            self.url = self.url[: -len("/api")]
        self.project = project
        self.timeout = timeout
        self.http = requests.Session()
        self.http.headers.update({"Authorization": token, "Content-Type": "application/json",
                                  "User-Agent": "liftoff-unleash-sync"})

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, step: str, body: Any = None,
                missing_ok: bool = False, conflict_ok: bool = False) -> Any:
        """One Admin API call; returns the decoded JSON (or None), raises UnleashError naming ``step``."""
        url = f"{self.url}{path}"
        try:
            resp = self.http.request(method, url, json=body, timeout=self.timeout)
        except requests.Timeout as exc:
            raise UnleashError(f"Unleash did not answer within {self.timeout:g}s while {step} ({url})",
                               step) from exc
        except requests.ConnectionError as exc:
            raise UnleashError(f"Unleash is unreachable at {self.url} while {step}: {exc.__class__.__name__}",
                               step) from exc
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.status_code == 409 and conflict_ok:
            return None
        if resp.status_code >= 400:
            message, retryable = _describe(resp.status_code, step, url, resp.text)
            raise UnleashError(message, step, resp.status_code, retryable)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            return None

    def _feature_path(self, name: str) -> str:
        return f"/api/admin/projects/{self.project}/features/{name}"

    # -- project and environments -------------------------------------------------------------
    def ensure_project(self, environments: list[str]) -> None:
        """Fail clearly unless the project and every environment exist; add environments to the project."""
        step = f"checking project {self.project!r}"
        projects = self.request("GET", "/api/admin/projects", step) or {}
        if self.project not in {p.get("id") for p in projects.get("projects", [])}:
            raise UnleashError(f"the Unleash project {self.project!r} does not exist "
                               "(set LIFTOFF_UNLEASH_PROJECT or create it in Unleash)",
                               step, 404, retryable=False)
        known = self.request("GET", "/api/admin/environments", "listing environments") or {}
        names = {e.get("name"): e for e in known.get("environments", [])}
        for env in environments:
            if env not in names:
                raise UnleashError(f"the Unleash environment {env!r} does not exist (fix "
                                   "LIFTOFF_UNLEASH_ENVIRONMENTS or create it in Unleash)",
                                   f"checking environment {env!r}", 404, retryable=False)
            if names[env].get("enabled") is False:
                raise UnleashError(f"the Unleash environment {env!r} is disabled",
                                   f"checking environment {env!r}", None, retryable=False)
        in_project = self.request("GET", f"/api/admin/projects/{self.project}/overview",
                                  "reading the project's environments", missing_ok=True)
        present = {e.get("environment") for e in (in_project or {}).get("environments", [])}
        for env in environments:
            if in_project is not None and env not in present:
                self.request("POST", f"/api/admin/projects/{self.project}/environments",
                             f"adding environment {env!r} to project {self.project!r}",
                             {"environment": env}, conflict_ok=True)

    # -- segments -----------------------------------------------------------------------------
    def segments(self) -> dict[str, dict]:
        """The server's segments by name."""
        data = self.request("GET", "/api/admin/segments", "listing segments") or {}
        return {s["name"]: s for s in data.get("segments", [])}

    def create_segment(self, name: str, constraints: list[dict], description: str = "") -> int:
        body = {"name": name, "description": description, "constraints": constraints}
        created = self.request("POST", "/api/admin/segments", f"creating segment {name!r}", body)
        if created and "id" in created:
            return int(created["id"])
        return int(self.segments()[name]["id"])

    def update_segment(self, segment_id: int, name: str, constraints: list[dict],
                       description: str = "") -> None:
        body = {"name": name, "description": description, "constraints": constraints}
        self.request("PUT", f"/api/admin/segments/{segment_id}", f"updating segment {name!r}", body)

    # -- features -----------------------------------------------------------------------------
    def feature(self, name: str) -> dict | None:
        """The feature with its environments and strategies, or None when it does not exist."""
        return self.request("GET", self._feature_path(name), f"reading feature {name!r}", missing_ok=True)

    def create_feature(self, name: str, type_: str = "release", description: str = "",
                       impression_data: bool = False) -> None:
        body = {"name": name, "type": type_, "description": description, "impressionData": impression_data}
        self.request("POST", f"/api/admin/projects/{self.project}/features",
                     f"creating feature {name!r}", body)

    def add_strategy(self, feature: str, env: str, strategy: dict) -> dict:
        return self.request("POST", f"{self._feature_path(feature)}/environments/{env}/strategies",
                            f"adding a {strategy.get('name')} strategy to {feature!r} in {env!r}", strategy)

    def delete_strategy(self, feature: str, env: str, strategy_id: str) -> None:
        self.request("DELETE", f"{self._feature_path(feature)}/environments/{env}/strategies/{strategy_id}",
                     f"removing strategy {strategy_id} of {feature!r} in {env!r}", missing_ok=True)

    def set_enabled(self, feature: str, env: str, enabled: bool) -> None:
        action = "on" if enabled else "off"
        self.request("POST", f"{self._feature_path(feature)}/environments/{env}/{action}",
                     f"switching {feature!r} {action} in {env!r}")

    # -- metrics ------------------------------------------------------------------------------
    def feature_metrics(self, name: str, hours_back: int = 48) -> list[dict]:
        """Hourly yes/no counts per app and environment for one feature (Unleash keeps 48 hours)."""
        data = self.request("GET", f"/api/admin/client-metrics/features/{name}/raw?hoursBack={hours_back}",
                            f"reading metrics of {name!r}", missing_ok=True) or {}
        return data.get("data", [])
