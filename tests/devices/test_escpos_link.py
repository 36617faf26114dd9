"""The link to an ESC/POS printer: addresses from the config, and status questions that never lie or hang."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from bus.payloads import ErrorCode
from devices.actor import DeviceGone
from devices.escpos_link import EscposLink, LinkAddress, LinkOptions, parse_address

OPTIONS = LinkOptions(status_timeout_ms=100)


@pytest.mark.parametrize(
    ("driver", "port", "address"),
    [
        ("network", "tcp://10.0.0.21:9100", LinkAddress("network", "10.0.0.21", 9100)),
        ("network", "10.0.0.21:9101", LinkAddress("network", "10.0.0.21", 9101)),
        ("network", "printer-1.shop.lan", LinkAddress("network", "printer-1.shop.lan", 9100)),
        ("serial", "/dev/serial/by-id/usb-Epson-if00", LinkAddress("serial", "/dev/serial/by-id/usb-Epson-if00")),
        ("usb", "usb:04b8:0202", LinkAddress("usb", "04b8:0202")),
        ("file", "/dev/usb/lp0", LinkAddress("file", "/dev/usb/lp0")),
    ],
)
def test_addresses_from_the_config(driver: str, port: str, address: LinkAddress):
    assert parse_address(driver, port) == address


@pytest.mark.parametrize(
    ("driver", "port", "complaint"),
    [
        (None, "10.0.0.21", "driver must be one of"),
        ("bluetooth", "x", "driver must be one of"),
        ("network", None, "needs a port"),
        ("network", "http://10.0.0.21", "host:port"),
        ("network", "10.0.0.21:http", "bad TCP port"),
        ("usb", "usb:epson:0202", "usb:vvvv:pppp"),
    ],
)
def test_a_bad_address_is_named(driver: str | None, port: str | None, complaint: str):
    with pytest.raises(ValueError, match=complaint):
        parse_address(driver, port)


@pytest.fixture
def printer_port() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """A one-connection TCP server in a thread, playing the printer as the test says."""
    servers: list[tuple[socket.socket, threading.Thread]] = []

    def serve(behave: Callable[[socket.socket], None]) -> int:
        listener = socket.create_server(("127.0.0.1", 0))

        def run() -> None:
            connection, _ = listener.accept()
            with connection:
                behave(connection)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        servers.append((listener, thread))
        return listener.getsockname()[1]

    yield serve
    for listener, thread in servers:
        listener.close()
        thread.join(timeout=2)


def connected(port: int) -> EscposLink:
    link = EscposLink(LinkAddress("network", "127.0.0.1", port), OPTIONS)
    link.open()
    return link


def test_a_printer_that_does_not_answer_gives_no_bytes_after_the_timeout(printer_port):
    done = threading.Event()
    link = connected(printer_port(lambda conn: done.wait(2)))
    try:
        started = time.monotonic()
        assert link.ask(b"\x10\x04\x01", 1) == b""
        assert 0.09 <= time.monotonic() - started < 1.0
    finally:
        done.set()
        link.close()


def test_a_late_reply_to_an_earlier_question_is_not_taken_for_this_ones(printer_port):
    def late_then_answer(conn: socket.socket) -> None:
        conn.sendall(b"\x1a")  # an answer that arrived after its asker gave up
        conn.recv(3)
        conn.sendall(b"\x16")
        conn.recv(1)

    link = connected(printer_port(late_then_answer))
    try:
        time.sleep(0.05)
        assert link.ask(b"\x10\x04\x01", 1) == b"\x16"
    finally:
        link.close()


def test_a_printer_that_hangs_up_and_stops_listening_is_gone():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def hang_up_for_good() -> None:
        connection, _ = listener.accept()
        listener.close()  # switched off: nothing listens any more
        connection.close()

    thread = threading.Thread(target=hang_up_for_good, daemon=True)
    thread.start()
    link = connected(port)
    try:
        thread.join(timeout=2)
        with pytest.raises(DeviceGone) as gone:
            link.ask(b"\x10\x04\x01", 1)
        assert gone.value.code == ErrorCode.DEVICE_OFFLINE
    finally:
        link.close()


def test_a_printer_that_restarted_is_asked_again_on_a_new_connection():
    """Its old connection is dead; a status question reconnects once (it prints nothing)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def restart_then_answer() -> None:
        first, _ = listener.accept()
        first.close()  # the printer restarted
        second, _ = listener.accept()
        with second:
            second.recv(16)
            second.sendall(b"\x16")  # online, nothing wrong

    thread = threading.Thread(target=restart_then_answer, daemon=True)
    thread.start()
    link = connected(port)
    try:
        time.sleep(0.05)
        assert link.ask(b"\x10\x04\x01", 1) == b"\x16"
    finally:
        link.close()
        listener.close()
        thread.join(timeout=2)


def test_nobody_listening_is_gone_at_once():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: refused
        link = EscposLink(LinkAddress("network", "127.0.0.1", port), OPTIONS)
        with pytest.raises(DeviceGone, match="cannot reach 127.0.0.1"):
            link.open()


@pytest.mark.parametrize(
    ("port", "address"),
    [
        ("tcp:10.0.0.32:9100", LinkAddress("network", "10.0.0.32", 9100)),
        ("tcp://10.0.0.32:9101", LinkAddress("network", "10.0.0.32", 9101)),
        ("10.0.0.32", LinkAddress("network", "10.0.0.32", 9100)),
        ("serial:/dev/ttyUSB0", LinkAddress("serial", "/dev/ttyUSB0")),
        ("file:/dev/usb/lp0", LinkAddress("file", "/dev/usb/lp0")),
        ("usb:0a5f:0181", LinkAddress("usb", "0a5f:0181")),
    ],
)
def test_a_label_printers_port_may_name_its_driver(port: str, address: LinkAddress):
    assert parse_address(None, port, port_names_driver=True) == address


def test_a_bare_path_must_say_which_driver_it_is():
    with pytest.raises(ValueError, match="serial:/dev/ttyUSB0 or file:/dev/ttyUSB0"):
        parse_address(None, "/dev/ttyUSB0", port_names_driver=True)


def test_an_answer_of_no_fixed_length_is_read_until_it_is_whole(printer_port):
    """A ZPL status answer is lines framed by STX/ETX: read up to the last one, no longer."""
    answer = b"\x02030,0,0,1245,000,0,0,0,000,0,0,0\x03\r\n"
    finished = threading.Event()

    def answer_in_pieces(conn: socket.socket) -> None:
        conn.recv(3)
        conn.sendall(answer[:10])
        time.sleep(0.02)
        conn.sendall(answer[10:])
        # More bytes come only once the asker has stopped reading, or after 2 s: a reader
        # that waited out its 5 s would take them for part of the answer.
        finished.wait(2)
        conn.sendall(b"\x02late\x03\r\n")

    link = EscposLink(
        LinkAddress("network", "127.0.0.1", printer_port(answer_in_pieces)), LinkOptions(status_timeout_ms=5000)
    )
    link.open()
    try:
        assert link.ask(b"~HS", 512, lambda data: data.endswith(b"\r\n")) == answer
    finally:
        finished.set()
        link.close()


def test_an_answer_vouching_for_bytes_just_sent_is_never_taken_from_a_new_connection():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[int] = []

    def restart_then_answer() -> None:
        first, _ = listener.accept()
        accepted.append(1)
        first.close()  # the connection broke with the label in it
        listener.settimeout(0.5)
        try:
            second, _ = listener.accept()
        except TimeoutError:
            return
        accepted.append(2)
        second.close()

    thread = threading.Thread(target=restart_then_answer, daemon=True)
    thread.start()
    link = connected(port)
    try:
        time.sleep(0.05)
        with pytest.raises(DeviceGone):
            link.ask(b"~HS", 512, lambda data: data.endswith(b"\r\n"), reconnect=False)
        thread.join(timeout=2)
        assert accepted == [1]
    finally:
        link.close()
        listener.close()
