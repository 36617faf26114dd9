"""Which answers a key remembers: the work done, never an invitation to retry."""

from __future__ import annotations

from bus.payloads import ErrorCode, Response
from hub.idempotency import IdempotencyKeys, fingerprint


async def test_a_retryable_answer_is_not_replayed_and_the_retry_runs():
    keys = IdempotencyKeys()
    runs: list[int] = []
    print_ = fingerprint("till-1", "print", {"receipt": 9})

    async def offline() -> Response:
        runs.append(1)
        return Response.failure("r1", ErrorCode.DEVICE_OFFLINE, "printer-1 is offline")

    async def printed() -> Response:
        runs.append(2)
        return Response.success("r2", {"printed": True})

    first = await keys.run("printer-1", "receipt-9", "r1", print_, offline)
    second = await keys.run("printer-1", "receipt-9", "r2", print_, printed)
    third = await keys.run("printer-1", "receipt-9", "r3", print_, printed)
    assert first.error is not None and second.ok and third.ok
    assert runs == [1, 2], "the retry after the device came back must run, and only once"
    assert third.request_id == "r3" and third.result == {"printed": True}


async def test_a_final_device_error_is_remembered():
    keys = IdempotencyKeys()
    print_ = fingerprint("till-1", "fiscalize", {"total": 100})

    async def jammed() -> Response:
        return Response.failure("r1", ErrorCode.DEVICE_ERROR, "paper jam after the document closed")

    async def must_not_run() -> Response:
        raise AssertionError("ran twice")

    await keys.run("fiscal-1", "sale-1", "r1", print_, jammed)
    replay = await keys.run("fiscal-1", "sale-1", "r2", print_, must_not_run)
    assert replay.error is not None and replay.error.code == ErrorCode.DEVICE_ERROR


async def test_a_receipt_refused_for_paper_out_prints_when_retried_with_its_key():
    """Paper out before anything was sent: the printer says the error is retryable."""
    from bus.payloads import DeviceError

    keys = IdempotencyKeys()
    print_ = fingerprint("till-1", "print", {"blocks": []})

    async def paper_out() -> Response:
        error = DeviceError(ErrorCode.DEVICE_ERROR, "printer-1: out of paper", {"bytes_sent": 0}, retryable=True)
        return error.to_response("r1")

    async def printed() -> Response:
        return Response.success("r2", {"printed": True})

    first = await keys.run("printer-1", "sale-7", "r1", print_, paper_out)
    assert first.error is not None and first.error.retryable
    assert (await keys.run("printer-1", "sale-7", "r2", print_, printed)).ok
