"""The HJ 212 decoder on hostile bytes: a Frame or FrameError, nothing else, whatever arrives.

Mutations of the shared vectors are tried twice: as they are (mostly caught by the length or CRC check)
and re-framed with a correct length and CRC, so that the mutated data segment reaches the parser.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

from protocols.errors import FrameError
from protocols.hj212 import crc_hj212, decode_frame
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
            decoded = decode_frame(data, length_unit=unit)  # type: ignore[arg-type]
        except FrameError as exc:
            assert str(exc) and exc.reason
            continue
        # What decodes can be used: every accessor answers.
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
