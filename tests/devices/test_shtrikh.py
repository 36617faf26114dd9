"""The Shtrikh-M protocol on bytes: frames, the ENQ/ACK/NAK link, encodings, commands, replies.

Expected frames are written out byte by byte with their LRC worked by hand in a comment,
so a test fails if the module's idea of the wire drifts, not only if it contradicts itself.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.shtrikh import (
    ACK,
    CLOSE_FIXED_SIZE,
    ENQ,
    MAX_ATTEMPTS,
    NAK,
    CloseCommand,
    CorruptFrame,
    CutType,
    DocumentType,
    Frame,
    FrameParser,
    ItemCommand,
    LinkState,
    MalformedCommand,
    Mode,
    RegisterError,
    ShtrikhLink,
    build_frame,
    cancel_document,
    cash_in,
    cash_out,
    close_document,
    cut,
    device_type,
    discount,
    error_message,
    fn_number,
    lrc,
    money,
    open_document,
    open_shift,
    operator_number,
    parse_cash_movement,
    parse_close_command,
    parse_close_document,
    parse_device_type,
    parse_fn_number,
    parse_fn_status,
    parse_item_command,
    parse_reply,
    parse_short_status,
    password,
    print_line,
    quantity,
    read_password,
    read_text,
    return_sale,
    sale,
    short_status,
    taxes,
    text,
    x_report,
    z_report,
)

ENQ_B, ACK_B, NAK_B = bytes([ENQ]), bytes([ACK]), bytes([NAK])

# Short status with the administrator's password 30: LEN 05, CMD 10, 1E 00 00 00;
# LRC = 05 ^ 10 ^ 1E = 0B.
SHORT_STATUS_30 = bytes.fromhex("02 05 10 1E 00 00 00 0B")


def reply_frame(cmd: int, err: int, data: bytes = b"") -> bytes:
    return build_frame(cmd, bytes([err]) + data)


# --------------------------------------------------------------------------- frames


def test_short_status_frame_is_exactly_the_documented_bytes():
    assert build_frame(0x10, bytes([30, 0, 0, 0])) == SHORT_STATUS_30
    assert short_status(30).to_bytes() == SHORT_STATUS_30


def test_a_command_without_data():
    # Device type: LEN 01, CMD FC; LRC = 01 ^ FC = FD.
    assert device_type().to_bytes() == bytes.fromhex("02 01 FC FD")


def test_lrc_is_the_xor_of_len_cmd_and_data():
    assert lrc(bytes.fromhex("05 10 1E 00 00 00")) == 0x0B
    assert lrc(b"") == 0


def test_a_frame_never_exceeds_the_one_byte_length():
    build_frame(0x17, bytes(254))
    with pytest.raises(ValueError):
        build_frame(0x17, bytes(255))


def test_two_byte_fiscal_storage_commands_are_framed_and_parsed_as_one_command():
    # FF 01 (FN status) with password 30: LEN 06; LRC = 06 ^ FF ^ 01 ^ 1E = E6.
    raw = build_frame(0xFF01, password(30))
    assert raw == bytes.fromhex("02 06 FF 01 1E 00 00 00 E6")
    assert FrameParser.parse_one(raw) == Frame(0xFF01, password(30))


def test_frames_arrive_across_chunk_boundaries():
    parser = FrameParser()
    stream = SHORT_STATUS_30 + device_type().to_bytes()
    got = []
    for byte in stream:
        got += parser.feed(bytes([byte]))
        if len(got) == 0:
            assert parser.pending
    assert got == [Frame(0x10, bytes([30, 0, 0, 0])), Frame(0xFC)]
    assert not parser.pending


def test_noise_before_stx_is_skipped_and_counted():
    parser = FrameParser()
    assert parser.feed(b"\x06\xff" + SHORT_STATUS_30[:3]) == []
    assert parser.feed(SHORT_STATUS_30[3:]) == [Frame(0x10, bytes([30, 0, 0, 0]))]
    assert parser.skipped == 2


def test_a_bad_lrc_is_rejected():
    bad = SHORT_STATUS_30[:-1] + b"\x0c"
    assert FrameParser.parse_one(bad) == CorruptFrame(bad)


@given(
    cmd=st.integers(0, 0xFE),
    data=st.binary(max_size=254),
    cuts=st.lists(st.integers(1, 300), max_size=6),
)
def test_any_frame_survives_the_round_trip_in_any_chunks(cmd: int, data: bytes, cuts: list[int]):
    raw = build_frame(cmd, data)
    parser = FrameParser()
    frames: list[Frame | CorruptFrame] = []
    position = 0
    for size in cuts:
        frames += parser.feed(raw[position : position + size])
        position += size
    frames += parser.feed(raw[position:])
    assert frames == [Frame(cmd, data)]


@given(data=st.binary(min_size=1, max_size=60), index=st.integers(0), flip=st.integers(1, 255))
def test_any_changed_byte_after_len_is_caught(data: bytes, index: int, flip: int):
    raw = bytearray(build_frame(0x80, data))
    position = 2 + index % (len(raw) - 2)  # CMD, DATA or LRC
    raw[position] ^= flip
    assert isinstance(FrameParser.parse_one(bytes(raw)), CorruptFrame)


# --------------------------------------------------------------------------- link


def test_link_happy_path_enq_nak_frame_ack_reply_ack():
    link = ShtrikhLink()
    assert link.start(short_status(30)) == ENQ_B
    assert link.receive(NAK_B) == SHORT_STATUS_30
    assert link.receive(ACK_B) == b""
    assert link.state is LinkState.AWAITING_REPLY
    reply = reply_frame(0x10, 0, bytes(15))
    assert link.receive(reply[:4]) == b""
    assert link.receive(reply[4:]) == ACK_B
    assert link.state is LinkState.DONE
    assert link.reply == Frame(0x10, bytes(16))


def test_link_takes_ack_and_reply_in_one_read():
    link = ShtrikhLink()
    link.start(open_shift(1))
    link.receive(NAK_B)
    assert link.receive(ACK_B + reply_frame(0xE0, 0, b"\x01")) == ACK_B
    assert link.reply == Frame(0xE0, b"\x00\x01")


def test_a_nak_to_our_frame_sends_it_again():
    link = ShtrikhLink()
    link.start(short_status(30))
    assert link.receive(NAK_B) == SHORT_STATUS_30
    assert link.receive(NAK_B) == SHORT_STATUS_30
    assert link.attempts == 3  # the ENQ and two sends
    link.receive(ACK_B)
    assert link.receive(reply_frame(0x10, 0, bytes(15))) == ACK_B


def test_a_lost_ack_never_sends_the_sale_twice():
    request = sale(1, qty=1000, price=100, tax_groups=[1], name="Хлеб")
    link = ShtrikhLink()
    link.start(request)
    assert link.receive(NAK_B) == request.to_bytes()
    assert link.timed_out() == ENQ_B  # no ACK came: ask, do not resend
    assert link.receive(ACK_B) == b""  # it has an answer: it took the sale
    assert link.receive(reply_frame(0x80, 0, b"\x01")) == ACK_B
    assert link.state is LinkState.DONE


def test_a_command_that_never_arrived_is_sent_again_after_the_probe():
    link = ShtrikhLink()
    link.start(short_status(30))
    link.receive(NAK_B)
    assert link.timed_out() == ENQ_B
    assert link.receive(NAK_B) == SHORT_STATUS_30  # idle: it never got it


def test_a_garbled_reply_is_naked_and_asked_for_again():
    link = ShtrikhLink()
    link.start(short_status(30))
    link.receive(NAK_B)
    link.receive(ACK_B)
    good = reply_frame(0x10, 0, bytes(15))
    garbled = good[:-1] + bytes([good[-1] ^ 0xFF])
    assert link.receive(garbled) == NAK_B + ENQ_B
    assert link.receive(ACK_B) == b""  # it repeats its answer
    assert link.receive(good) == ACK_B
    assert link.reply == Frame(0x10, bytes(16))


def test_a_reply_timeout_probes_and_picks_the_answer_up():
    link = ShtrikhLink()
    link.start(z_report(30))
    link.receive(NAK_B)
    link.receive(ACK_B)
    assert link.wait_seconds == link.reply_timeout
    partial = reply_frame(0x41, 0, b"\x1e")
    link.receive(partial[:3])
    assert link.timed_out() == ENQ_B
    assert link.wait_seconds == link.answer_timeout
    link.receive(ACK_B)
    assert link.receive(partial) == ACK_B
    assert link.state is LinkState.DONE


def test_an_old_answer_is_cleared_and_kept_before_our_command():
    link = ShtrikhLink()
    link.start(short_status(30))
    assert link.receive(ACK_B) == b""  # it holds an answer from before
    stale = reply_frame(0x85, 0, b"\x01" + money(0))
    assert link.receive(stale) == ACK_B + ENQ_B
    assert link.receive(NAK_B) == SHORT_STATUS_30
    link.receive(ACK_B)
    link.receive(reply_frame(0x10, 0, bytes(15)))
    assert link.state is LinkState.DONE
    assert link.stale_replies == [Frame(0x85, b"\x00\x01" + bytes(5))]


def test_silence_gives_up_after_the_attempt_limit():
    link = ShtrikhLink()
    written = [link.start(short_status(30))]
    for _ in range(MAX_ATTEMPTS):
        written.append(link.timed_out())
    assert written == [ENQ_B] * MAX_ATTEMPTS + [b""]
    assert link.state is LinkState.FAILED
    assert "10 attempts" in (link.error or "")


def test_endless_naks_give_up_too():
    link = ShtrikhLink(max_attempts=3)
    link.start(short_status(30))
    assert link.receive(NAK_B) == SHORT_STATUS_30
    assert link.receive(NAK_B) == SHORT_STATUS_30
    assert link.receive(NAK_B) == b""
    assert link.state is LinkState.FAILED


def test_an_acknowledged_command_whose_answer_vanished_is_not_resent():
    link = ShtrikhLink()
    link.start(close_document(1, payments=[100]))
    link.receive(NAK_B)
    link.receive(ACK_B)
    assert link.timed_out() == ENQ_B
    assert link.receive(NAK_B) == b""
    assert link.state is LinkState.FAILED
    assert "outcome unknown" in (link.error or "")


def test_one_command_at_a_time():
    link = ShtrikhLink()
    link.start(short_status(30))
    with pytest.raises(RuntimeError):
        link.start(short_status(30))


# --------------------------------------------------------------------------- encodings


def test_password_is_four_bytes_little_endian():
    assert password(30) == bytes.fromhex("1E 00 00 00")
    assert password(0x01020304) == bytes.fromhex("04 03 02 01")
    with pytest.raises(ValueError):
        password(-1)


def test_money_is_five_bytes_little_endian_kopecks():
    assert money(12345) == bytes.fromhex("39 30 00 00 00")  # 123.45 RUB
    assert money(9_999_999_999) == bytes.fromhex("FF E3 0B 54 02")
    with pytest.raises(ValueError):
        money(10_000_000_000)
    with pytest.raises(ValueError):
        money(-1)


def test_quantity_is_five_bytes_of_thousandths():
    assert quantity(1000) == bytes.fromhex("E8 03 00 00 00")  # one piece
    assert quantity(250) == bytes.fromhex("FA 00 00 00 00")  # 0.250 kg


def test_text_is_cp1251_nul_padded_and_cut_to_the_field():
    assert text("Хлеб") == bytes.fromhex("D5 EB E5 E1") + bytes(36)
    assert text("Ё" * 50) == b"\xa8" * 40
    assert text("€ok", 4) == b"\x88ok\x00"  # cp1251 has the euro sign
    assert text("日本", 3) == b"??\x00"
    assert read_text(text("Молоко 3,2%")) == "Молоко 3,2%"


def test_tax_groups_and_discount():
    assert taxes([1, 2]) == bytes.fromhex("01 02 00 00")
    assert taxes() == bytes(4)
    with pytest.raises(ValueError):
        taxes([5])
    with pytest.raises(ValueError):
        taxes([1, 1, 1, 1, 1])
    assert discount(-250) == bytes.fromhex("06 FF")  # a 2.50 % surcharge
    with pytest.raises(ValueError):
        discount(10000)


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("request_frame", "expected"),
    [
        # LRC = 05 ^ E0 ^ 01 = E4
        (open_shift(1), "02 05 E0 01 00 00 00 E4"),
        # LRC = 06 ^ 8D ^ 01 ^ 00 = 8A
        (open_document(1, DocumentType.SALE), "02 06 8D 01 00 00 00 00 8A"),
        # LRC = 06 ^ 8D ^ 01 ^ 02 = 88
        (open_document(1, DocumentType.RETURN_SALE), "02 06 8D 01 00 00 00 02 88"),
        # LRC = 05 ^ 88 ^ 01 = 8C
        (cancel_document(1), "02 05 88 01 00 00 00 8C"),
        # LRC = 05 ^ 40 ^ 1E = 5B
        (x_report(30), "02 05 40 1E 00 00 00 5B"),
        # LRC = 05 ^ 41 ^ 1E = 5A
        (z_report(30), "02 05 41 1E 00 00 00 5A"),
        # 100.00 RUB = 10000 = 0x2710; LRC = 0A ^ 50 ^ 01 ^ 10 ^ 27 = 6C
        (cash_in(1, 10000), "02 0A 50 01 00 00 00 10 27 00 00 00 6C"),
        # the same with 51: LRC 6D
        (cash_out(1, 10000), "02 0A 51 01 00 00 00 10 27 00 00 00 6D"),
        # LRC = 06 ^ 25 ^ 01 ^ 01 = 23
        (cut(1, CutType.PARTIAL), "02 06 25 01 00 00 00 01 23"),
        # LRC = 06 ^ 25 ^ 01 ^ 00 = 22
        (cut(1), "02 06 25 01 00 00 00 00 22"),
    ],
)
def test_short_command_bytes(request_frame: Frame, expected: str):
    assert request_frame.to_bytes() == bytes.fromhex(expected)


def test_sale_bytes_with_a_cyrillic_name():
    frame = sale(1, qty=1000, price=12345, department=1, tax_groups=[1], name="Хлеб").to_bytes()
    # LEN 3C = 60: CMD 1 + password 4 + quantity 5 + price 5 + department 1 + taxes 4 + text 40.
    # LRC = 3C^80^01^E8^03^39^30^01^01^D5^EB^E5^E1 = 65
    expected = (
        bytes.fromhex("02 3C 80 01 00 00 00 E8 03 00 00 00 39 30 00 00 00 01 01 00 00 00 D5 EB E5 E1")
        + bytes(36)
        + b"\x65"
    )
    assert frame == expected


def test_return_sale_is_laid_out_as_a_sale():
    frame = return_sale(1, qty=1000, price=12345, department=1, tax_groups=[1], name="Хлеб").to_bytes()
    assert frame[2] == 0x82
    assert frame[3:-1] == sale(1, qty=1000, price=12345, department=1, tax_groups=[1], name="Хлеб").to_bytes()[3:-1]
    assert frame[-1] == 0x65 ^ 0x80 ^ 0x82


def test_close_document_bytes_with_cash_and_card():
    frame = close_document(1, payments=[20000, 5000]).to_bytes()
    # LEN 47 = 71: CMD 1 + password 4 + four payments 20 + discount 2 + taxes 4 + text 40.
    # 200.00 cash = 20 4E 00 00 00, 50.00 by type 2 = 88 13 00 00 00.
    # LRC = 47^85^01^20^4E^88^13 = 36
    expected = (
        bytes.fromhex("02 47 85 01 00 00 00 20 4E 00 00 00 88 13 00 00 00")
        + bytes(10)  # payment types 3 and 4
        + bytes(2)  # discount
        + bytes(4)  # taxes
        + bytes(40)  # text
        + b"\x36"
    )
    assert frame == expected
    with pytest.raises(ValueError):
        close_document(1, payments=[1, 2, 3, 4, 5])


def test_print_line_bytes():
    frame = print_line(1, "Итого").to_bytes()
    # LEN 2E = 46: CMD 1 + password 4 + tapes 1 + text 40; receipt tape only (02).
    # LRC = 2E^17^01^02^C8^F2^EE^E3^EE = E3
    assert frame == bytes.fromhex("02 2E 17 01 00 00 00 02 C8 F2 EE E3 EE") + bytes(35) + b"\xe3"


def test_bad_fields_are_refused_before_anything_is_sent():
    with pytest.raises(ValueError):
        sale(1, qty=1000, price=100, department=17)
    with pytest.raises(ValueError):
        sale(1, qty=-1, price=100)


# --------------------------------------------------------------------------- replies


def test_short_status_reply_is_read_field_by_field():
    data = bytes.fromhex(
        "00"  # ERR
        "1E"  # operator 30
        "02 04"  # flags: receipt roll (bit 1), cover open (bit 10)
        "28"  # mode 8 (document open), status 2 (return sale)
        "00"  # submode: paper present
        "03"  # operations in document, low byte
        "9E B4"  # battery, supply
        "00 00"  # fiscal memory and EKLZ errors
        "01"  # operations in document, high byte
        "00 00 00"  # reserved
    )
    status = parse_short_status(parse_reply(Frame(0x10, data)))
    assert status.operator == 30
    assert status.mode == Mode.DOCUMENT_OPEN and status.document_open and status.shift_open
    assert status.open_document_type is DocumentType.RETURN_SALE
    assert status.operations_in_document == 0x0103
    assert status.cover_open and not status.paper_out and not status.shift_over_24h


def test_short_status_shift_over_24h_and_paper_out():
    data = bytes([0, 1, 0x02, 0x00, 0x03, 0x01]) + bytes(9)
    status = parse_short_status(parse_reply(Frame(0x10, data)))
    assert status.shift_over_24h and status.shift_open and status.paper_out
    assert not status.document_open and status.open_document_type is None


def test_an_error_reply_carries_its_message():
    # Sale refused: shift over 24 h. LRC = 02 ^ 80 ^ 4E = CC.
    raw = bytes.fromhex("02 02 80 4E CC")
    frame = FrameParser.parse_one(raw)
    assert isinstance(frame, Frame)
    reply = parse_reply(frame)
    assert not reply.ok and reply.error == 0x4E
    assert reply.message == "shift over 24 hours: a Z report is needed"
    with pytest.raises(RegisterError) as caught:
        operator_number(reply)
    assert caught.value.code == 0x4E and "Z report" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (0x00, "no error"),
        (0x4F, "wrong password"),
        (0x6B, "no receipt paper"),
        (0x4A, "a document is open"),
        (0x16, "shift not open"),
        (0x73, "not supported in this mode"),
    ],
)
def test_common_error_codes_read_as_english(code: int, words: str):
    assert words in error_message(code)


def test_an_unknown_error_code_still_says_which():
    assert error_message(0xEE) == "unknown register error 0xee"


def test_device_type_reply():
    name = "ШТРИХ-М-ФР-К".encode("cp1251")
    reply = parse_reply(Frame(0xFC, bytes([0, 0, 0, 1, 12, 0, 0]) + name))
    device = parse_device_type(reply)
    assert (device.type, device.protocol_version, device.protocol_subversion, device.model) == (0, 1, 12, 0)
    assert device.name == "ШТРИХ-М-ФР-К"


def test_fiscal_storage_number_request_and_its_reply():
    # The FN commands are two bytes (FF 02) and want the system administrator's password.
    # LEN 06; LRC = 06 ^ FF ^ 02 ^ 1E = E5
    assert fn_number(30).to_bytes() == bytes.fromhex("02 06 FF 02 1E 00 00 00 E5")
    assert parse_fn_number(parse_reply(Frame(0xFF02, b"\x00" + b"9960440300000017"))) == "9960440300000017"
    with pytest.raises(RegisterError):
        parse_fn_number(parse_reply(Frame(0xFF02, b"\x02")))


def test_fiscal_storage_status_names_the_storage_and_its_last_document():
    data = (
        bytes([0, 0x03, 0x00, 0x00, 0x01, 0x00])  # ERR, phase, no document, no data, shift open, no warnings
        + bytes([26, 11, 24, 19, 29])  # 24.11.2026 19:29
        + b"9960440300000017"
        + (1234).to_bytes(4, "little")
    )
    status = parse_fn_status(parse_reply(Frame(0xFF01, data)))
    assert (status.storage_number, status.last_document_number, status.shift_open) == ("9960440300000017", 1234, True)


def test_close_document_reply_gives_the_change():
    reply = parse_reply(Frame(0x85, bytes([0, 1]) + money(550)))
    closed = parse_close_document(reply)
    assert closed.operator == 1 and closed.change == 550


def test_cash_movement_reply_gives_the_document_number():
    reply = parse_reply(Frame(0x50, bytes([0, 1, 0x34, 0x12])))
    assert parse_cash_movement(reply).document_number == 0x1234


def test_open_shift_reply_has_err_before_the_operator():
    assert operator_number(parse_reply(Frame(0xE0, b"\x00\x1e"))) == 30


# --------------------------------------------------------------------------- command data, read by the register


def test_a_sale_reads_back_field_by_field():
    frame = sale(1, qty=1250, price=12990, department=3, tax_groups=(2,), name="Яблоки Голден")
    assert parse_item_command(frame.data) == ItemCommand(
        password=1, quantity=1250, price=12990, department=3, tax_groups=(2, 0, 0, 0), name="Яблоки Голден"
    )


def test_an_item_name_runs_to_the_end_of_the_frame_whatever_its_width():
    fixed = password(1) + quantity(1000) + money(8990) + bytes([0]) + taxes((1,))
    pyshtrih_width = fixed + "Молоко".encode("cp1251").ljust(48, b"\x00")  # ShtrihM01F pads to 48
    assert parse_item_command(pyshtrih_width).name == "Молоко"
    assert parse_item_command(fixed).name == ""
    with pytest.raises(MalformedCommand):
        parse_item_command(fixed[:-1])


def test_close_document_reads_back_with_a_surcharge():
    frame = close_document(
        30, payments=[100, 200, 0, 400], discount_hundredths=-150, tax_groups=(1, 2), footer="Спасибо"
    )
    assert parse_close_command(frame.data) == CloseCommand(
        password=30, payments=(100, 200, 0, 400), discount_hundredths=-150, tax_groups=(1, 2, 0, 0), footer="Спасибо"
    )
    with pytest.raises(MalformedCommand):
        parse_close_command(frame.data[: CLOSE_FIXED_SIZE - 1])


def test_a_password_needs_four_bytes():
    assert read_password(password(0x01020304) + b"\x07") == 0x01020304
    with pytest.raises(MalformedCommand):
        read_password(b"\x01\x00\x00")
