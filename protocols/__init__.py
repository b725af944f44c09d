"""What the station agent and the central collector must agree on, as pure code.

No sockets, files (except package data read at import), or clocks live here: the parameter catalogue,
HJ 212 flags, the versioned wire messages and topic scheme, Modbus register decoding and analyser
register-map profiles, and the HJ 212 frame codec.
"""
