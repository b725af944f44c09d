"""The HJ 212 codec's two promises, as properties.

- Whatever bytes arrive, the decoder returns a frame that re-encodes to exactly those bytes (with the same
  options) or raises FrameError: nothing else escapes. Mutations of the shared vectors are tried twice: as
  they are (mostly caught by the length or CRC check) and re-framed with a correct length and CRC, so that
  the mutated data segment reaches the parser.
- Whatever frame the encoder accepts decodes back to itself, layout included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import strategies as st

from protocols import hj212
from protocols.errors import FrameError
from protocols.hj212 import CP, Frame, Layout, crc_hj212, decode_frame, encode_frame
from tests.fuzz_settings import Budget, budgets, check

VECTORS = [
    line.split("\t")[0].encode("utf-8") + b"\r\n"
    for line in (Path(__file__).with_name("data") / "hj212_vectors.tsv")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]
# Bytes the grammar gives meaning to, and a few that break encodings.
SPECIAL = [
    b"&&",
    b";",
    b",",
    b"=",
    b"-",
    b"CP=&&",
    b"DataTime=",
    b"\r\n",
    b"\xff",
    b"\xe4\xb8",
    b"\x00",
    b"9" * 30,
]


def frame(segment: bytes) -> bytes:
    return b"##%04d" % len(segment) + segment + b"%04X" % crc_hj212(segment) + b"\r\n"


def assert_frame_or_frame_error(data: bytes) -> None:
    for unit in ("bytes", "chars"):
        try:
            decoded = decode_frame(data, length_unit=unit)
        except FrameError as exc:
            assert str(exc) and exc.reason in hj212.REASONS
            continue
        # What decodes is what was sent, byte for byte ...
        assert encode_frame(decoded, length_unit=unit) == data
        # ... and can be used: every accessor answers.
        decoded.cp.params, decoded.cp.values, decoded.cp.text(), decoded.version, decoded.split
        _ = decoded.cp.data_time


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VECTORS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "special"]))
        if action == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            data[at:at] = draw(st.sampled_from(SPECIAL))
    return bytes(data)


@budgets(300)
def test_arbitrary_bytes(budget: Budget) -> None:
    check(assert_frame_or_frame_error, budget, st.binary(max_size=200) | st.binary().map(lambda b: b"##" + b))


@budgets(300)
def test_mutated_vectors(budget: Budget) -> None:
    check(assert_frame_or_frame_error, budget, mutated())


@budgets(300)
def test_mutated_segments_with_a_valid_length_and_crc(budget: Budget) -> None:
    check(assert_frame_or_frame_error, budget, mutated().map(lambda data: frame(data[6:-6])))


@budgets(300)
def test_tokens_with_a_valid_length_and_crc(budget: Budget) -> None:
    # Data segments assembled from the grammar's own pieces reach every branch of the parser.
    header = [b"QN=20160801085857223", b"ST=21", b"CN=2011", b"PW=123456", b"MN=A1", b"Flag=5", b"PNUM=2"]
    grammar = [
        b"PNO=1",
        b"CP=&&",
        b"&&",
        b";",
        b",",
        b"=",
        b" ",
        b"DataTime=20260101000000",
        b"w01001-Rtd=7.1",
    ]
    pieces = st.sampled_from([*header, *grammar, b"a"])
    check(
        assert_frame_or_frame_error, budget, st.lists(pieces, max_size=14).map(lambda p: frame(b"".join(p)))
    )


# --- frames the encoder accepts -------------------------------------------------------------------------

TIMES = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC))
IDENT = st.from_regex(r"[A-Za-z0-9_-]{1,24}", fullmatch=True)
KEYS = st.from_regex(r"[A-Za-z0-9_]{1,8}(-[A-Za-z0-9_]{1,6})?", fullmatch=True).filter(
    lambda key: key not in hj212.TIME_KEYS
)
VALUES = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=";,=&"), max_size=10)
GROUPS = st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=3).map(tuple)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    groups = draw(st.lists(GROUPS, max_size=6))
    if draw(st.booleans()):
        groups.insert(0, (("DataTime", hj212.format_time(draw(TIMES))),))
    pnum = draw(st.none() | st.integers(1, hj212.MAX_PACKETS))
    spaces = draw(st.lists(st.integers(0, 3), max_size=len(groups)))
    return Frame(
        qn=draw(st.none() | TIMES.map(hj212.format_qn)),
        st=draw(st.from_regex(r"[0-9]{2}", fullmatch=True)),
        cn=draw(st.from_regex(r"[0-9]{4}", fullmatch=True)),
        pw=draw(IDENT),
        mn=draw(IDENT),
        flag=draw(st.none() | st.integers(0, 255)),
        pnum=pnum,
        pno=None if pnum is None else draw(st.integers(1, pnum)),
        cp=CP(tuple(groups)),
        layout=Layout(
            crc_lower=draw(st.booleans()), item_spaces=tuple(spaces), trailing_semicolon=draw(st.booleans())
        ),
    )


def assert_round_trip(frame: Frame, unit: str, variant: str) -> None:
    options = {"length_unit": unit, "crc_variant": variant}
    try:
        wire = encode_frame(frame, **options)  # type: ignore[arg-type]
    except FrameError as exc:
        assert exc.reason == "too_long"  # the only thing a well-formed frame can be refused for
        return
    decoded = decode_frame(wire, **options)  # type: ignore[arg-type]
    assert decoded == frame
    # A CRC of digits only has no case to keep; every other detail of the layout comes back.
    expected = hj212.replace(frame.layout, crc_lower=False) if wire[-6:-2].isdigit() else frame.layout
    assert decoded.layout == expected
    assert encode_frame(decoded, **options) == wire  # type: ignore[arg-type]


@budgets(300)
def test_decode_after_encode_is_the_identity(budget: Budget) -> None:
    check(
        assert_round_trip,
        budget,
        frames(),
        st.sampled_from(["bytes", "chars"]),
        st.sampled_from(["hj212", "modbus"]),
    )


def assert_direct_answer_is_the_long_way(request: Frame, unit: str, variant: str) -> None:
    options = {"length_unit": unit, "crc_variant": variant}
    long_way = encode_frame(hj212.build_data_answer(request), **options)  # type: ignore[arg-type]
    assert hj212.encode_data_answer(request, **options) == long_way  # type: ignore[arg-type]


@budgets(200)
def test_the_direct_9014_is_the_long_way_byte_for_byte(budget: Budget) -> None:
    check(
        assert_direct_answer_is_the_long_way,
        budget,
        frames(),
        st.sampled_from(["bytes", "chars"]),
        st.sampled_from(["hj212", "modbus"]),
    )


def test_a_direct_9014_to_a_request_with_bad_fields_is_refused_as_the_long_way_refuses_it() -> None:
    for bad in (
        Frame(qn="2026", st="21", cn="2011", pw="123456", mn="MN1"),
        Frame(qn="20261399000000000", st="21", cn="2011", pw="123456", mn="MN1"),  # month 13
        Frame(st="21", cn="2011", pw="12;456", mn="MN1"),
        Frame(st="21", cn="2011", pw="123456", mn="M" * 25),
    ):
        try:
            encode_frame(hj212.build_data_answer(bad))
        except FrameError as exc:
            expected = exc.reason
        else:
            raise AssertionError(f"the long way took {bad}")
        try:
            hj212.encode_data_answer(bad)
        except FrameError as exc:
            assert exc.reason == expected
        else:
            raise AssertionError(f"the direct way took {bad}")
