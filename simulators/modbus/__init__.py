"""Simulated Modbus slaves: a pure frame codec, register devices with fault plans, and asyncio servers
for Modbus TCP and Modbus RTU on a (virtual) serial line."""

from protocols.modbus import ExceptionCode, ModbusExceptionError, ModbusFrameError, crc16_modbus
from simulators.modbus.device import RegisterBank, RegisterDevice, ServerStats, Table
from simulators.modbus.faults import FaultMode, FaultPlan
from simulators.modbus.rtu_server import ModbusRtuServer, start_rtu_server
from simulators.modbus.tcp_server import ModbusTcpServer, start_tcp_server

__all__ = [
    "ExceptionCode",
    "FaultMode",
    "FaultPlan",
    "ModbusExceptionError",
    "ModbusFrameError",
    "ModbusRtuServer",
    "ModbusTcpServer",
    "RegisterBank",
    "RegisterDevice",
    "ServerStats",
    "Table",
    "crc16_modbus",
    "start_rtu_server",
    "start_tcp_server",
]
