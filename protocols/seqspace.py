"""The ranges of a station's message seqs: who numbers what, so that nobody asks for the space between them.

A station's messages are keyed (station, seq) at the collector. Three numberers share that space:

* a live **agent** counts up from 0 and stays below ``AGENT_SEQ_LIMIT`` (10**12: 30,000 years at 1,000
  messages/s); its holes are lost messages and the gap check asks for them;
* **imported history** (the demo's and a migration's backfill, simulators/history.py) numbers from
  ``HISTORY_SEQ_BASE``: a block of its own, not a continuation of the agent's counter;
* an **HJ 212 logger** numbers nothing, so the collector derives a seq for each of its batches at or above
  ``LOGGER_SEQ_BASE`` (collector/hj212/mapping.py).

Only the agent's range has meaningful holes; the spaces up to and between the other blocks are no loss.
"""

from __future__ import annotations

AGENT_SEQ_LIMIT = 10**12
HISTORY_SEQ_BASE = AGENT_SEQ_LIMIT
LOGGER_SEQ_BASE = 2**62
