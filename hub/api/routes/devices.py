"""Devices: their state, and the same requests a till sends them over MQTT (docs/rest.md).
The answer is the bus's response envelope; the HTTP status follows its error code."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bus.payloads import DeviceStateDoc, Request, Response
from hub.api.deps import Caller, Devices, Router
from hub.api.refusals import HTTP_STATUS, JsonRoute, refusal_responses
from hub.requests import unknown_device

router = APIRouter(prefix="/api/v1", tags=["devices"], route_class=JsonRoute)


@router.get("/devices", summary="Every device and its state.", responses=refusal_responses(401))
async def list_devices(caller: Caller, devices: Devices) -> list[DeviceStateDoc]:
    return [actor.state_document() for actor in devices.actors()]


@router.get("/devices/{device_id}", summary="One device's state.", responses=refusal_responses(401, 404))
async def get_device(device_id: str, caller: Caller, devices: Devices) -> DeviceStateDoc:
    actor = devices.get(device_id)
    if actor is None:  # as a request to it would be answered
        raise unknown_device(device_id)
    return actor.state_document()


@router.post(
    "/devices/{device_id}/requests",
    summary="Send a device the same request a till would send over MQTT.",
    response_model=Response,
    responses=refusal_responses(401, 413, 415, *HTTP_STATUS.values()),
)
async def device_request(device_id: str, request: Request, caller: Caller, request_router: Router) -> JSONResponse:
    response = await request_router.execute(caller.id, device_id, request)
    code = 200 if response.ok else HTTP_STATUS[response.error.code]  # type: ignore[union-attr]
    return JSONResponse(response.model_dump(mode="json"), status_code=code)
