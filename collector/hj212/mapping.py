"""HJ 212 data frames → the collector's readings, with the identities of the MQTT path. Pure.

A data frame (2011 real-time, 2051 minute, 2061 hourly, 2031 daily) carries per parameter a value field
(``Rtd`` for real-time, ``Avg`` for the aggregates), a ``Flag`` and optionally a ``SampleTime``. Each becomes
one ``Reading``:

- param: the HJ 212-2017 code; a HJ/T 212-2005 three-character code is mapped by the logger's ``codes_2005``;
  a code the catalogue does not know is skipped and counted (``unknown_param``).
- t: ``SampleTime`` where given (the analyser's sample time: what an agent stamps its readings with), else
  ``DataTime``, read in the logger's zone. So a value that reaches the collector from an agent over MQTT and from
  a logger over HJ 212 has one identity (station, param, t) and is stored once.
- flag: the HJ 212-2017 letter as it is (STANDARDS.md §5: N F M S D C T B are ours one to one); the 2005
  letter P (power failure) is D; any other letter is D and counted (``unknown_flag``): doubt goes into the flag.
  No Flag field means N (loggers omit it for normal values).
- value: the decimal text as a float, never rewritten; an empty or missing value is no value (with N or T it
  becomes B: an interval without a valid value); text that is not a finite number skips the reading
  (``bad_value``).

The message identity: a logger has no sequence numbers, so each batch gets one derived from what it holds:
``LOGGER_SEQ_BASE`` + (DataTime seconds, CN, chunk) in the high bits + a hash of MN and parameter codes in the
low ones. The same frame re-sent (no 9014 reached the logger, a history pull) gets the same seq, so the store
sees a duplicate message and the alert rules are not fed twice. Seqs at or above ``LOGGER_SEQ_BASE`` are never
an agent's (2**62 messages), and the gap checks leave that range alone (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from protocols import catalogue
from protocols.flags import VALID_FLAGS, Flag
from protocols.hj212 import CN_DAILY, CN_HOURLY, CN_MINUTE, CN_REALTIME, Frame, parse_time
from protocols.messages import MAX_READINGS_PER_BATCH, Lane, Reading, ReadingBatch
from protocols.seqspace import LOGGER_SEQ_BASE

DATA_CNS = (CN_REALTIME, CN_MINUTE, CN_HOURLY, CN_DAILY)
VALUE_FIELD = {CN_REALTIME: "Rtd", CN_MINUTE: "Avg", CN_HOURLY: "Avg", CN_DAILY: "Avg"}
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLAGS = {flag.value: flag for flag in Flag}
_FLAGS_2005 = {"P": Flag.FAULT}  # HJ/T 212-2005: power failure
_SEQ_HASH_BITS = 20
_SEQ_CHUNK_BITS = 4
_MAX_SECONDS = 2**34 - 1  # to the year 2514: the seq stays below 2**63


@dataclass(frozen=True, slots=True)
class Mapped:
    """The readings of one data frame and what was skipped or changed on the way, by reason."""

    readings: list[Reading]
    problems: Counter[str]


def map_flag(text: str | None) -> tuple[Flag, bool]:
    """The flag of an HJ 212 ``-Flag`` field and whether the letter was known (None: absent, N)."""
    if text is None:
        return Flag.NORMAL, True
    letter = text.strip().upper()
    known = _FLAGS.get(letter) or _FLAGS_2005.get(letter)
    return (known, True) if known is not None else (Flag.FAULT, False)


def map_code(code: str, codes_2005: Mapping[str, str]) -> str | None:
    """The 2017 parameter code of ``code`` (mapped from 2005 where configured), or None when not known."""
    code = codes_2005.get(code, code)
    return code if catalogue.is_known(code) else None


def parse_value(text: str | None) -> float | None:
    """The value as a float; None when empty; ValueError when not a finite decimal number."""
    if text is None or not text.strip():
        return None
    if not _DECIMAL.fullmatch(text.strip()):
        raise ValueError(f"{text[:32]!r} is not a decimal number")
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise ValueError(f"{text[:32]!r} is not a finite number")
    return value


def frame_readings(
    frame: Frame, *, mn: str, zone: str, codes_2005: Mapping[str, str] | None = None
) -> Mapped:
    """The readings of data frame ``frame`` (a 2011/2051/2061/2031) from logger ``mn``; ValueError when the
    frame has no usable DataTime."""
    field = VALUE_FIELD.get(frame.cn)
    if field is None:
        raise ValueError(f"CN {frame.cn} is not a data upload")
    data_time_text = frame.cp.get("DataTime")
    if data_time_text is None:
        raise ValueError("data frame without DataTime")
    data_time = parse_time(data_time_text, zone).astimezone(UTC)
    problems: Counter[str] = Counter()
    readings: list[Reading] = []
    seen: set[tuple[str, datetime]] = set()
    device = f"hj212:{mn}"
    for code, fields in frame.cp.params.items():
        param = map_code(code, codes_2005 or {})
        if param is None:
            problems["unknown_param"] += 1
            continue
        flag, known = map_flag(fields.get("Flag"))
        if not known:
            problems["unknown_flag"] += 1
        try:
            value = parse_value(fields.get(field))
            sample = fields.get("SampleTime")
            t = parse_time(sample, zone).astimezone(UTC) if sample else data_time
        except ValueError:
            problems["bad_value"] += 1
            continue
        if value is None and flag in VALID_FLAGS:
            flag = Flag.COMM_FAILED
        if (param, t) in seen:  # a 2005 code and its 2017 code in one frame: the first one stands
            problems["duplicate_param"] += 1
            continue
        seen.add((param, t))
        readings.append(Reading(param=param, t=t, value=value, flag=flag, device=device))
    return Mapped(readings, problems)


def derive_seq(mn: str, cn: str, data_time: datetime, params: Sequence[str], chunk: int = 0) -> int:
    """The message seq of a logger's batch: deterministic in what it holds (see the module doc)."""
    seconds = min(max(int(data_time.timestamp()), 0), _MAX_SECONDS)
    cn_index = DATA_CNS.index(cn) if cn in DATA_CNS else len(DATA_CNS)
    digest = zlib.crc32(f"{mn}|{','.join(sorted(params))}".encode()) & ((1 << _SEQ_HASH_BITS) - 1)
    high = ((seconds << 3 | cn_index) << _SEQ_CHUNK_BITS) | (chunk & ((1 << _SEQ_CHUNK_BITS) - 1))
    return LOGGER_SEQ_BASE + (high << _SEQ_HASH_BITS | digest)


def batches(
    station: str,
    frame: Frame,
    readings: Sequence[Reading],
    *,
    mn: str,
    zone: str,
    lane: Lane,
    sent_at: datetime,
) -> list[ReadingBatch]:
    """``readings`` of ``frame`` as ReadingBatch messages of ``station`` (at most MAX_READINGS_PER_BATCH each,
    chunk number in the seq)."""
    data_time_text = frame.cp.get("DataTime")
    data_time = parse_time(data_time_text, zone) if data_time_text else sent_at
    out = []
    for chunk, start in enumerate(range(0, len(readings), MAX_READINGS_PER_BATCH)):
        part = list(readings[start : start + MAX_READINGS_PER_BATCH])
        seq = derive_seq(mn, frame.cn, data_time, [r.param for r in part], chunk)
        out.append(ReadingBatch(station=station, seq=seq, lane=lane, sent_at=sent_at, readings=part))
    return out
