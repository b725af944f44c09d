"""The generic ASCII request/response protocol of protocols.asciiline ("#01RD\\r" → "*01,w01010=12.3,...")."""

from __future__ import annotations

from agent.acquisition.lineprotocols import LineResult
from protocols import asciiline


class GenericAscii:
    name = "ascii_generic"
    terminator = asciiline.TERMINATOR
    max_line = asciiline.MAX_LINE

    def request(self, address: int) -> bytes:
        return asciiline.build_request(address)

    def parse(self, line: bytes, address: int) -> LineResult:
        answer = asciiline.parse_answer(line, address=address)
        return LineResult(dict(answer.values), answer.flag)


PROTOCOL = GenericAscii()
