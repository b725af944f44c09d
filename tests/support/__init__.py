"""Shared test support: real brokers on free ports, processes that are always cleaned up."""
