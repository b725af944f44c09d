"""The simulated Modbus device seen by the servers, a ready register bank, and the transport-neutral
request handling (PDU in, reply plan out) that both the TCP and the RTU server use."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from protocols.modbus import (
    READ_HOLDING,
    ExceptionCode,
    ModbusExceptionError,
    ModbusFrameError,
    Request,
    build_exception_response,
    build_read_response,
    build_write_response,
    parse_request_pdu,
)
from protocols.registers import WIDTH, DataType, WordOrder, decode, encode
from simulators.modbus.faults import FaultMode, FaultPlan

log = logging.getLogger(__name__)

Table = Literal["holding", "input"]
TABLES: tuple[Table, ...] = ("holding", "input")


@runtime_checkable
class RegisterDevice(Protocol):
    """What a server needs from a simulated device. ``read``/``write`` raise ModbusExceptionError to refuse
    (2 illegal address, 3 illegal value, 4 device failure, 6 busy)."""

    unit_id: int
    faults: FaultPlan

    def read(self, table: Table, address: int, count: int) -> list[int]: ...

    def write(self, address: int, values: list[int]) -> None: ...


class RegisterBank:
    """Sparse holding/input register tables with explicit valid address ranges (0-based PDU addresses).

    Registers inside a valid range that were never set read as 0. A read or write touching any address
    outside the valid ranges is refused with ILLEGAL DATA ADDRESS. Masters may write holding registers
    only inside ``writable`` (default: all valid holding ranges). Subclass and override ``write`` to react
    to written commands (call ``super().write`` to store them)."""

    def __init__(
        self,
        unit_id: int,
        *,
        holding: Iterable[range] = (range(0, 0x10000),),
        input: Iterable[range] = (range(0, 0x10000),),
        writable: Iterable[range] | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        if not 0 <= unit_id <= 247:
            raise ValueError(f"unit id must be 0..247, got {unit_id}")
        self.unit_id = unit_id
        self.faults = faults if faults is not None else FaultPlan()
        self.ranges: dict[Table, list[range]] = {"holding": list(holding), "input": list(input)}
        self.writable: list[range] = list(writable) if writable is not None else list(self.ranges["holding"])
        self._tables: dict[Table, dict[int, int]] = {"holding": {}, "input": {}}

    # -- simulator side (no Modbus rules beyond range checks; errors here are programming errors)

    def set_registers(self, table: Table, address: int, values: Iterable[int]) -> None:
        """Store ``values`` from ``address`` on. Raises ValueError outside the valid ranges or for a value
        that is not a 16-bit word (nothing is stored then)."""
        words = list(values)
        self._check_table(table)
        if not words:
            return
        if not self._covered(self.ranges[table], address, len(words)):
            raise ValueError(f"{table} registers {address}..{address + len(words) - 1} outside valid ranges")
        for w in words:
            if not isinstance(w, int) or not 0 <= w <= 0xFFFF:
                raise ValueError(f"register value {w!r} is not a 16-bit word")
        store = self._tables[table]
        for i, w in enumerate(words):
            store[address + i] = w

    def get_registers(self, table: Table, address: int, count: int) -> list[int]:
        """Current contents, 0 where never set, without range checks."""
        self._check_table(table)
        store = self._tables[table]
        return [store.get(address + i, 0) for i in range(count)]

    def set_value(
        self, table: Table, address: int, value: float, data_type: DataType, order: WordOrder = "ABCD"
    ) -> None:
        """Store one typed value (encoded with protocols.registers, the agent's own codec)."""
        self.set_registers(table, address, encode(value, data_type, order))

    def get_value(self, table: Table, address: int, data_type: DataType, order: WordOrder = "ABCD") -> float:
        return decode(self.get_registers(table, address, WIDTH[data_type]), data_type, order)

    def add_range(self, table: Table, span: range, *, writable: bool = False) -> None:
        self._check_table(table)
        self.ranges[table].append(span)
        if writable and table == "holding":
            self.writable.append(span)

    # -- master side (Modbus rules)

    def read(self, table: Table, address: int, count: int) -> list[int]:
        self._check_table(table)
        if not self._covered(self.ranges[table], address, count):
            raise ModbusExceptionError(
                ExceptionCode.ILLEGAL_DATA_ADDRESS, f"{table} {address}+{count} outside valid ranges"
            )
        return self.get_registers(table, address, count)

    def write(self, address: int, values: list[int]) -> None:
        if not self._covered(self.writable, address, len(values)):
            raise ModbusExceptionError(
                ExceptionCode.ILLEGAL_DATA_ADDRESS, f"holding {address}+{len(values)} not writable"
            )
        if any(not 0 <= v <= 0xFFFF for v in values):
            raise ModbusExceptionError(ExceptionCode.ILLEGAL_DATA_VALUE, "value is not a 16-bit word")
        store = self._tables["holding"]
        for i, v in enumerate(values):
            store[address + i] = v

    @staticmethod
    def _covered(ranges: list[range], address: int, count: int) -> bool:
        # every address of the span must lie in some valid range (ranges may abut)
        return count > 0 and all(any(a in r for r in ranges) for a in range(address, address + count))

    @staticmethod
    def _check_table(table: str) -> None:
        if table not in TABLES:
            raise ValueError(f"table must be 'holding' or 'input', got {table!r}")

    def __repr__(self) -> str:
        return f"RegisterBank(unit_id={self.unit_id}, faults={self.faults})"


@dataclass
class ServerStats:
    """Counters a server keeps. ``errors`` kinds: malformed, crc, dropped_bytes, incomplete, unknown_unit,
    mbap_protocol, mbap_length, io, device (a device model raised something other than
    ModbusExceptionError). ``faults`` counts injected faults by mode; ``exceptions`` counts
    exception responses by code (device refusals and injected ones)."""

    requests: int = 0
    responses: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    exceptions: Counter[int] = field(default_factory=Counter)


Corruption = Literal["none", "crc", "garbage"]


@dataclass(frozen=True)
class Reply:
    """What the transport must do with one request: send ``pdu`` (None: stay silent) after ``delay_s``,
    corrupted as ``corrupt`` says."""

    pdu: bytes | None
    delay_s: float = 0.0
    corrupt: Corruption = "none"
    fault: FaultMode = "none"


def execute(device: RegisterDevice, request: Request) -> bytes:
    """Run a parsed request on the device; the response PDU (an exception response if refused)."""
    try:
        if request.is_write:
            device.write(request.address, list(request.values))
            return build_write_response(request)
        table: Table = "holding" if request.function == READ_HOLDING else "input"
        values = device.read(table, request.address, request.count)
        if len(values) != request.count:
            # a device model bug must not go out as a short frame
            raise ModbusExceptionError(ExceptionCode.SERVER_DEVICE_FAILURE, "device returned wrong count")
        return build_read_response(request.function, values)
    except ModbusExceptionError as exc:
        return build_exception_response(request.function, exc.code)


def handle_pdu(device: RegisterDevice, pdu: bytes, stats: ServerStats) -> Reply:
    """Parse, apply the device's fault plan, execute; counts into ``stats``.

    Faults ``no_answer`` and ``exception`` leave the device untouched (it never saw the request);
    ``late``, ``crc_error`` and ``garbage`` execute it (the device acted, the answer was late or mangled)."""
    stats.requests += 1
    try:
        request = parse_request_pdu(pdu)
    except ModbusExceptionError as exc:
        stats.exceptions[exc.code] += 1
        return Reply(build_exception_response(exc.function or pdu[0], exc.code))
    except ModbusFrameError as exc:
        stats.errors["malformed"] += 1
        if exc.function is None:
            return Reply(None)
        # framing is intact (TCP length / RTU CRC), so answer rather than let the master time out
        stats.exceptions[int(ExceptionCode.ILLEGAL_DATA_VALUE)] += 1
        return Reply(build_exception_response(exc.function, int(ExceptionCode.ILLEGAL_DATA_VALUE)))
    plan = device.faults
    fault = plan.draw()
    if fault != "none":
        stats.faults[fault] += 1
    if fault == "no_answer":
        return Reply(None, fault=fault)
    if fault == "exception":
        stats.exceptions[plan.exception_code] += 1
        return Reply(build_exception_response(request.function, plan.exception_code), fault=fault)
    try:
        response = execute(device, request)
    except Exception:
        # a bug in a device model must not kill the server: the master sees a device failure
        log.exception("device %s failed on %s", device.unit_id, request)
        stats.errors["device"] += 1
        response = build_exception_response(request.function, int(ExceptionCode.SERVER_DEVICE_FAILURE))
    if response[0] & 0x80:
        stats.exceptions[response[1]] += 1
    if fault == "late":
        return Reply(response, delay_s=plan.delay_s, fault=fault)
    if fault == "crc_error":
        return Reply(response, corrupt="crc", fault=fault)
    if fault == "garbage":
        return Reply(response, corrupt="garbage", fault=fault)
    return Reply(response)


def handle_broadcast(devices: Mapping[int, RegisterDevice], pdu: bytes, stats: ServerStats) -> None:
    """Unit 0: writes go to every device, nothing is answered; anything else is ignored."""
    stats.requests += 1
    try:
        request = parse_request_pdu(pdu)
    except (ModbusExceptionError, ModbusFrameError):
        stats.errors["malformed"] += 1
        return
    if not request.is_write:
        stats.errors["malformed"] += 1
        return
    for device in list(devices.values()):
        if device.faults.draw() == "none":
            try:
                execute(device, request)
            except Exception:
                log.exception("device %s failed on broadcast %s", device.unit_id, request)
                stats.errors["device"] += 1
