"""A client for the reference cloud's admin endpoints, for the CLI, the demo and tests."""

from __future__ import annotations

from typing import Any

import httpx

from cloud_link.reference.schemas import FaultChange, FaultSettings, Published, StoreList

#: The admin endpoints answer at once; longer than this means the cloud is stuck.
ADMIN_TIMEOUT_S = 10.0


class CloudUnreachable(Exception):
    pass


class CloudRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code = status, code


class CloudAdmin:
    def __init__(self, url: str, token: str, *, timeout: float = ADMIN_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def __enter__(self) -> CloudAdmin:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def stores(self) -> StoreList:
        return StoreList.model_validate(self._call("GET", "/v1/admin/stores"))

    def publish(self, store_id: str, items: dict[str, list[dict[str, Any]]]) -> Published:
        return Published.model_validate(self._call("POST", f"/v1/admin/stores/{store_id}/inbound", json=items))

    def events(self, store_id: str, *, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        params = {"after": after, "limit": limit}
        return self._call("GET", f"/v1/admin/stores/{store_id}/events", params=params)["events"]

    def faults(self, change: FaultChange | None = None) -> FaultSettings:
        if change is None:
            return FaultSettings.model_validate(self._call("GET", "/v1/admin/faults"))
        body = change.model_dump(exclude_none=True)
        return FaultSettings.model_validate(self._call("POST", "/v1/admin/faults", json=body))

    def clear_faults(self) -> FaultSettings:
        return FaultSettings.model_validate(self._call("DELETE", "/v1/admin/faults"))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CloudUnreachable(f"cannot reach the cloud at {self.url}: {exc or type(exc).__name__}") from None
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code != 200:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise CloudRefused(answer.status_code, error.get("code", "error"), error.get("message", answer.text[:200]))
        if body is None:
            raise CloudRefused(
                answer.status_code, "not_json", f"the cloud answered something that is not JSON: {answer.text[:80]!r}"
            )
        return body
