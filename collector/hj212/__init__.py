"""The collector's HJ 212-2017 side: existing data loggers (数采仪) and outfall monitors report over TCP.

    registry.py    the configured loggers by MN; MN and password checked (constant time)
    mapping.py     data frames → ReadingBatch messages with the MQTT path's identities; the derived seq
    reassembly.py  split packets (PNUM/PNO) put back together, with a time limit
    ratelimit.py   a token bucket per connection
    counters.py    what was refused or skipped, per logger and reason
    session.py     one connection's logic: a line in → answers, inbox commits, close (pure)
    commands.py    the collector's commands as HJ 212 requests; the logger's answers as a CommandReply
    presence.py    a logger's connection state as the Status an agent would send
    server.py      asyncio TCP in a thread of the main process; commits through the inbox

Everything but server.py is pure. Off unless ``[hj212] enabled`` (collector/config.py).
"""
