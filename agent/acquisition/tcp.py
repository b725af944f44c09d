"""Modbus TCP: one pymodbus client per host:port, shared by the units behind it (a gateway).

Retries are ours (none inside pymodbus: retries=0) and so is reconnection (reconnect_delay=0 turns pymodbus's
background reconnect off): a dead host is backed off by the device schedule, not hammered by the library.
"""

from __future__ import annotations

import asyncio

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from agent.acquisition.errors import FailureKind, ReadFailed


class TcpLink:
    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.connects = 0
        self._client = AsyncModbusTcpClient(
            host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0, name=f"{host}:{port}"
        )
        self._connect_lock = asyncio.Lock()

    async def _ensure_connected(self) -> None:
        async with self._connect_lock:
            if self._client.connected:
                return
            try:
                ok = await asyncio.wait_for(self._client.connect(), self.timeout_s * 2)
            except (TimeoutError, OSError) as exc:
                ok = False
                reason = str(exc) or type(exc).__name__
            else:
                reason = "refused or unreachable"
            if not ok:
                self._client.close()
                raise ReadFailed("connection", f"cannot connect to {self.host}:{self.port}: {reason}")
            self.connects += 1

    async def read(self, unit: int, table: str, address: int, count: int) -> list[int]:
        await self._ensure_connected()
        client = self._client
        call = client.read_holding_registers if table == "holding" else client.read_input_registers
        try:
            # An outer bound besides pymodbus's own, in case the lock is held by a stuck request.
            reply = await asyncio.wait_for(call(address, count=count, device_id=unit), self.timeout_s * 3)
        except TimeoutError:
            raise ReadFailed("timeout", f"{self.host}:{self.port} unit {unit}: no answer") from None
        except ConnectionException as exc:
            raise ReadFailed("connection", f"{self.host}:{self.port}: {exc}") from None
        except ModbusIOException as exc:
            kind: FailureKind = "timeout" if "No response" in str(exc) else "garbage"
            raise ReadFailed(kind, f"{self.host}:{self.port} unit {unit}: {exc}") from None
        except ModbusException as exc:
            raise ReadFailed("garbage", f"{self.host}:{self.port} unit {unit}: {exc}") from None
        if reply.isError():
            code = getattr(reply, "exception_code", None)
            raise ReadFailed("exception", f"unit {unit} answered exception {code}", code=code)
        registers = list(getattr(reply, "registers", []))
        if len(registers) != count:
            raise ReadFailed("garbage", f"asked {count} registers, got {len(registers)}")
        return registers

    def close(self) -> None:
        self._client.close()
