"""ZVT on exact bytes: APDUs and their lengths, BCD and variable fields, the commands the hub
sends, the messages a terminal sends back, the stream parser and one command's dialogue.

The expected bytes are written out by hand from the specification's layouts, not produced
by the module under test.
"""

from __future__ import annotations

import pytest

from devices import zvt
from devices.zvt import (
    Acknowledgement,
    Apdu,
    ApduReader,
    Completion,
    Dialogue,
    DialogueState,
    IntermediateStatus,
    StatusInformation,
    TerminalAbort,
    ZvtError,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --------------------------------------------------------------------------- the commands the hub sends


def test_authorization_carries_the_amount_in_bcd_and_the_currency():
    assert zvt.authorization(1250, 978).to_bytes() == h("06 01 0A 04 000000001250 49 0978")
    assert zvt.authorization(99_999_999, 643).to_bytes() == h("06 01 0A 04 000099999999 49 0643")
    assert zvt.authorization(1).to_bytes() == h("06 01 07 04 000000000001")


@pytest.mark.parametrize("amount", [0, -5, zvt.MAX_AMOUNT + 1])
def test_an_amount_outside_twelve_digits_is_refused(amount: int):
    with pytest.raises(ZvtError):
        zvt.authorization(amount)


def test_registration_has_password_config_and_a_bare_currency():
    # config 1E: ECR prints payment (02) and admin (04) receipts, wants stages (08), controls amounts (10).
    assert zvt.registration("000000", currency=978).to_bytes() == h("06 00 06 000000 1E 0978")
    assert zvt.registration("123456", config=0x08).to_bytes() == h("06 00 04 123456 08")
    assert zvt.registration("000000", currency=978, service_byte=0x01).to_bytes() == h("06 00 08 000000 1E 0978 03 01")
    with pytest.raises(ZvtError, match="after the currency"):
        zvt.registration("000000", service_byte=1)
    with pytest.raises(ZvtError, match="six digits"):
        zvt.registration("12345")


def test_refund_reversal_and_the_password_commands():
    assert zvt.refund("123456", 500, 643).to_bytes() == h("06 31 0D 123456 04 000000000500 49 0643")
    assert zvt.reversal("000000", 42).to_bytes() == h("06 30 06 000000 87 0042")
    assert zvt.end_of_day("000000").to_bytes() == h("06 50 03 000000")
    assert zvt.status_enquiry("000000").to_bytes() == h("05 01 03 000000")
    assert zvt.repeat_receipt("000000").to_bytes() == h("06 20 03 000000")
    assert zvt.abort_request().to_bytes() == h("06 B0 00")
    assert zvt.ack().to_bytes() == h("80 00 00")
    assert zvt.nack(0x6C).to_bytes() == h("84 6C 00")
    with pytest.raises(ZvtError):
        zvt.reversal("000000", 10000)


# --------------------------------------------------------------------------- lengths and numbers


def test_long_data_has_ff_and_a_little_endian_length():
    assert Apdu(0x06, 0xD3, bytes(254)).to_bytes()[:3] == h("06 D3 FE")
    assert Apdu(0x06, 0xD3, bytes(255)).to_bytes()[:5] == h("06 D3 FF FF 00")
    raw = Apdu(0x06, 0xD3, bytes(300)).to_bytes()
    assert raw[:5] == h("06 D3 FF 2C 01") and len(raw) == 305
    assert zvt.parse_apdu(raw) == Apdu(0x06, 0xD3, bytes(300))
    with pytest.raises(ZvtError):
        zvt.encode_length(70000)


def test_bcd_both_ways():
    assert zvt.bcd(1250, 6) == h("000000001250")
    assert zvt.bcd(978, 2) == h("0978")
    assert zvt.read_bcd(h("000123")) == 123
    with pytest.raises(ZvtError):
        zvt.bcd(10000, 2)
    with pytest.raises(ZvtError, match="not BCD"):
        zvt.read_bcd(h("1A"))


def test_llvar_lllvar_and_tlv_fields_carry_their_lengths():
    assert zvt.field_bytes(0x8B, b"Visa") == h("8B F0F4") + b"Visa"
    assert zvt.field_bytes(0x3C, b"x" * 123)[:4] == h("3C F1F2F3")
    assert zvt.field_bytes(0x06, b"\x01" * 200)[:3] == h("06 81C8")
    assert zvt.field_bytes(0x06, b"\x01" * 300)[:4] == h("06 82012C")
    assert zvt.parse_fields(h("8B F0F4") + b"Visa" + h("3C F0F0F2 4142") + h("06 03 010203")) == {
        0x8B: b"Visa",
        0x3C: b"AB",
        0x06: h("010203"),
    }
    with pytest.raises(ZvtError, match="is 6 bytes"):
        zvt.field_bytes(0x04, h("1250"))
    with pytest.raises(ZvtError, match="unknown BMP 7F"):
        zvt.parse_fields(h("27 00 7F 01"))
    with pytest.raises(ZvtError, match="cut short"):
        zvt.parse_fields(h("04 0000"))
    with pytest.raises(ZvtError, match="LL/LLL"):
        zvt.parse_fields(h("8B 0102"))


# --------------------------------------------------------------------------- what the terminal sends

#: A Status-Information after an approved payment of 12.50 EUR, as a terminal sends it.
APPROVED_STATUS = h(
    "04 0F 45"
    "27 00"  # result: approved
    "04 000000001250"  # amount
    "0B 000123"  # trace number
    "0C 143005"  # time 14:30:05
    "0D 0524"  # date 24 May
    "0E 2812"  # expiry
    "22 F0F8 EEEEEEEEEEEE4242"  # PAN, 12 digits masked
    "29 52500038"  # terminal id
    "3B 3132333435360000"  # approval code "123456"
    "49 0978"  # EUR
    "87 0007"  # receipt number
    "88 000042"  # turnover record
    "8A 0A"  # card type: Visa
    "8B F0F4 56697361"  # card name "Visa"
    "19 40"  # payment type
)


def test_a_status_information_is_read_field_by_field():
    message = zvt.parse_message(zvt.parse_apdu(APPROVED_STATUS))
    assert isinstance(message, StatusInformation)
    assert message.approved and message.reason == "approved"
    assert (message.amount, message.currency, message.trace_no, message.receipt_no) == (1250, 978, 123, 7)
    assert (message.time, message.date, message.turnover_no) == ("14:30:05", "05-24", 42)
    assert message.terminal_id == "52500038" and message.approval_code == "123456" and message.payment_type == 0x40
    assert message.card == zvt.Card(name="Visa", type=10, pan="************4242", expiry="2812")


def test_the_simulators_status_information_is_the_same_bytes():
    built = zvt.status_information(
        result_code=0,
        amount=1250,
        currency=978,
        trace_no=123,
        receipt_no=7,
        turnover_no=42,
        time="14:30:05",
        date="05-24",
        terminal_id="52500038",
        approval_code="123456",
        card=zvt.Card(name="Visa", type=10, pan="************4242", expiry="2812"),
    )
    # The same fields in the same order, less the payment type the simulator does not send.
    assert built.to_bytes() == h("04 0F 43") + APPROVED_STATUS[3:-2]


def test_intermediate_statuses_become_stages_a_till_can_show():
    insert = zvt.parse_message(zvt.parse_apdu(h("04 FF 02 0A 3C")))
    assert insert == IntermediateStatus(0x0A, 60, "insert_card", "insert, tap or swipe the card", False)
    pin = zvt.parse_message(zvt.parse_apdu(h("04 FF 01 01")))
    assert isinstance(pin, IntermediateStatus) and pin.stage == "enter_pin" and pin.timeout is None
    wrong_pin_remove = zvt.parse_message(zvt.parse_apdu(h("04 FF 01 55")))
    assert isinstance(wrong_pin_remove, IntermediateStatus)
    assert (wrong_pin_remove.stage, wrong_pin_remove.remove_card) == ("wrong_pin", True)
    assert "remove the card" in wrong_pin_remove.text
    remove = zvt.parse_message(zvt.parse_apdu(h("04 FF 01 0B")))
    assert isinstance(remove, IntermediateStatus) and remove.stage == "remove_card" and remove.remove_card
    with pytest.raises(ZvtError):
        zvt.parse_message(zvt.parse_apdu(h("04 FF 00")))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("06 1E 01 6C", "aborted"),
        ("06 1E 01 05", "declined"),
        ("06 1E 01 37", "wrong_pin"),  # the network's 55, a binary number
        ("06 1E 01 33", "insufficient_funds"),  # 51
        ("06 1E 01 0D", "declined"),  # 13: any other network code is a decline
        ("06 1E 01 B4", "already_reversed"),
        ("06 1E 01 9C", "terminal_busy"),
        ("06 1E 00", "terminal_error"),  # no code at all
    ],
)
def test_an_abort_says_why_in_words_and_a_reason(raw: str, reason: str):
    message = zvt.parse_message(zvt.parse_apdu(h(raw)))
    assert isinstance(message, TerminalAbort) and message.reason == reason and message.text


def test_completion_with_and_without_the_software_version():
    after_registration = zvt.parse_message(zvt.parse_apdu(h("06 0F 0A 19 00 29 52500038 49 0978")))
    assert after_registration == Completion(status_byte=0, terminal_id="52500038", currency=978)
    after_enquiry = zvt.parse_message(zvt.parse_apdu(h("06 0F 0B F0F0F7") + b"SIM 1.0" + h("00")))
    assert after_enquiry == Completion(software="SIM 1.0", terminal_status=0)
    assert zvt.completion(software="SIM 1.0", terminal_status=0).to_bytes() == h("06 0F 0B F0F0F7") + b"SIM 1.0" + h(
        "00"
    )
    assert zvt.parse_message(zvt.parse_apdu(h("06 0F 00"))) == Completion()


def test_acknowledgements():
    assert zvt.parse_message(zvt.parse_apdu(h("80 00 00"))) == Acknowledgement(True, 0)
    refused = zvt.parse_message(zvt.parse_apdu(h("84 9C 00")))
    assert refused == Acknowledgement(False, 0x9C) and refused.reason == "terminal_busy"


# --------------------------------------------------------------------------- the simulator's side


def test_requests_are_read_back_as_the_terminal_sees_them():
    assert zvt.parse_request(zvt.parse_apdu(h("06 00 08 000000 1E 0978 03 01"))) == zvt.Registration(
        "000000", 0x1E, 978, 1
    )
    assert zvt.parse_request(zvt.parse_apdu(h("06 01 0A 04 000000001250 49 0978"))) == zvt.Authorization(1250, 978)
    assert zvt.parse_request(zvt.parse_apdu(h("06 31 0D 123456 04 000000000500 49 0643"))) == zvt.Refund(
        "123456", 500, 643
    )
    assert zvt.parse_request(zvt.parse_apdu(h("06 30 06 000000 87 0042"))) == zvt.Reversal("000000", 42)
    assert zvt.parse_request(zvt.parse_apdu(h("06 20 03 000000"))) == zvt.PasswordCommand(0x0620, "000000")
    assert zvt.parse_request(zvt.parse_apdu(h("06 B0 00"))) == zvt.AbortRequest()
    with pytest.raises(ZvtError, match="without an amount"):
        zvt.parse_request(zvt.parse_apdu(h("06 01 03 49 0978")))


# --------------------------------------------------------------------------- the stream

STREAM = h("80 00 00") + h("04 FF 02 0A 3C") + APPROVED_STATUS + h("06 0F 00") + Apdu(0x06, 0xD3, bytes(300)).to_bytes()


def expected_stream() -> list[Apdu]:
    return [
        Apdu(0x80, 0x00),
        Apdu(0x04, 0xFF, h("0A 3C")),
        zvt.parse_apdu(APPROVED_STATUS),
        Apdu(0x06, 0x0F),
        Apdu(0x06, 0xD3, bytes(300)),
    ]


def test_the_reader_finds_apdus_joined_in_one_read():
    assert ApduReader().feed(STREAM) == expected_stream()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 64])
def test_the_reader_finds_apdus_split_anywhere(size: int):
    reader = ApduReader()
    found: list[Apdu] = []
    for start in range(0, len(STREAM), size):
        found += reader.feed(STREAM[start : start + size])
    assert found == expected_stream() and reader.pending == 0


def test_the_reader_waits_inside_the_extended_length():
    reader = ApduReader()
    raw = Apdu(0x06, 0xD3, bytes(300)).to_bytes()
    assert reader.feed(raw[:4]) == [] and reader.pending == 4  # FF and one length byte
    assert reader.feed(raw[4:]) == [Apdu(0x06, 0xD3, bytes(300))]


def test_garbage_where_an_apdu_must_start_is_refused_not_guessed():
    reader = ApduReader()
    assert reader.feed(h("80 00 00")) == [Apdu(0x80, 0x00)]
    with pytest.raises(ZvtError, match="no APDU starts with 13 37"):
        reader.feed(h("13 37 00 04 FF 01 0A"))
    assert reader.garbage.startswith(h("13 37")) and reader.pending == 0
    with pytest.raises(ZvtError):
        zvt.parse_apdu(h("80 00 00 80"))  # one and a bit


# --------------------------------------------------------------------------- one command's dialogue


def test_a_payment_dialogue_acknowledges_every_terminal_message_and_ends_on_completion():
    dialogue = Dialogue(zvt.authorization(1250, 978))
    assert dialogue.start() == h("06 01 0A 04 000000001250 49 0978")
    replies = []
    for raw in (h("80 00 00"), h("04 FF 02 0A 3C"), h("04 FF 01 01"), APPROVED_STATUS, h("06 0F 00")):
        assert not dialogue.finished
        _, reply = dialogue.receive(zvt.parse_apdu(raw))
        replies.append(reply)
    assert replies == [b"", h("80 00 00"), h("80 00 00"), h("80 00 00"), h("80 00 00")]
    assert dialogue.state is DialogueState.DONE and dialogue.accepted
    assert [s.stage for s in dialogue.stages] == ["insert_card", "enter_pin"]
    assert dialogue.status is not None and dialogue.status.approved and dialogue.abort is None


def test_a_refused_command_and_an_aborted_dialogue():
    refused = Dialogue(zvt.authorization(1250))
    refused.receive(zvt.parse_apdu(h("84 9C 00")))
    assert refused.state is DialogueState.REFUSED and not refused.accepted
    assert refused.refusal == Acknowledgement(False, 0x9C)

    aborted = Dialogue(zvt.authorization(1250))
    aborted.receive(zvt.parse_apdu(h("80 00 00")))
    aborted.receive(zvt.parse_apdu(h("04 FF 01 0A")))
    # The ECR sent 06 B0; the terminal's 80 00 to it is no news to the dialogue.
    assert aborted.receive(zvt.parse_apdu(h("80 00 00")))[1] == b""
    _, reply = aborted.receive(zvt.parse_apdu(h("06 1E 01 6C")))
    assert reply == h("80 00 00") and aborted.finished and aborted.accepted
    assert aborted.abort is not None and aborted.abort.reason == "aborted"


def test_print_lines_are_acknowledged_and_kept_aside():
    dialogue = Dialogue(zvt.repeat_receipt("000000"))
    dialogue.receive(zvt.parse_apdu(h("80 00 00")))
    line = Apdu(0x06, 0xD1, b"\x00RECEIPT")
    assert dialogue.receive(line)[1] == h("80 00 00") and dialogue.other == [line]
