"""A job's events heard inside the hub (hub.job_events): the Labels page's run hears
its own request's events, not another client's of the same id, and stops hearing them
when it stops listening, leaving nothing behind."""

from __future__ import annotations

from bus.payloads import Event
from hub.job_events import JobEvents


def progress(request_id: object, done: int) -> Event:
    return Event(type="progress", device="labels-1", data={"request_id": request_id, "done": done, "total": 3})


def test_a_run_hears_its_own_request_s_events_until_it_stops_listening() -> None:
    events = JobEvents()
    heard: list[int] = []
    stop = events.listen("manager-1", "web-1", lambda event: heard.append(event.data["done"]))
    events.sent_to_client("manager-1", progress("web-1", 1))
    events.sent_to_client("manager-2", progress("web-1", 9))  # another manager's request of the same id
    events.sent_to_client("manager-1", progress("web-2", 9))
    events.sent_to_client("manager-1", progress(None, 9))
    events.sent_to_client("manager-1", Event(type="claim_lost", device="labels-1", data={"device_id": "labels-1"}))
    assert heard == [1] and events.listening == 1
    stop()
    events.sent_to_client("manager-1", progress("web-1", 2))
    assert heard == [1] and events.listening == 0
    stop()  # twice is harmless
    assert events.listening == 0


def test_a_listener_that_fails_does_not_stop_the_device_that_told_it(caplog) -> None:
    events = JobEvents()

    def broken(event: Event) -> None:
        raise ValueError("a bug in the page")

    events.listen("manager-1", "web-1", broken)
    events.sent_to_client("manager-1", progress("web-1", 1))
    assert "manager-1's listener for web-1 failed on a progress event" in caplog.text
