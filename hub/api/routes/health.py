"""Health: is the process alive, is it ready to serve, and its Prometheus metrics.  No
token needed: the shop's monitoring reads them."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from hub.api.deps import Metrics, Readiness
from hub.api.refusals import JsonRoute

router = APIRouter(tags=["health"], route_class=JsonRoute)


@router.get("/healthz", summary="The process is alive.")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz", summary="Connected to the broker and serving.")
async def readyz(ready: Readiness) -> JSONResponse:
    is_ready, reason = ready()
    return JSONResponse({"ready": is_ready, "reason": reason}, status_code=200 if is_ready else 503)


@router.get("/metrics", summary="Prometheus metrics.", response_class=PlainTextResponse)
async def metrics(hub_metrics: Metrics) -> PlainTextResponse:
    return PlainTextResponse(hub_metrics.render(), media_type="text/plain; version=0.0.4")
