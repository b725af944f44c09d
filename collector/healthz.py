"""Whether the collector is well, and if not why, in words: the /healthz body as a pure function of what the
service's parts report (store, receiver, inbox, applier, the HJ 212 server where enabled)."""

from __future__ import annotations

from typing import Any

from collector.config import IngestConfig


def health_report(
    cfg: IngestConfig,
    *,
    store_ok: bool,
    mqtt_ok: bool,
    receiver: dict[str, Any],
    writes: dict[str, Any],
    applier: dict[str, Any],
    running: bool,
    dead_letters: int | None,
    hj212: dict[str, Any] | None = None,
) -> tuple[bool, dict[str, Any]]:
    """The /healthz body and whether all is well; ``reasons`` says what is not. ``receiver``, ``writes`` and
    ``applier``: the service's receiver_status(), receiver_write_status() and the applier's status();
    ``running``: started and not stopping (a stopped applier is then a fault); ``dead_letters``: None when
    the store does not answer; ``hj212``: the HJ 212 server's ``running`` and ``restarts`` (None: not enabled)."""
    reasons: list[str] = []
    if not store_ok:
        reasons.append("the store does not answer")
    if not mqtt_ok:
        reasons.append("the receiver is not connected to the broker")
    if applier["state"] == "retrying":
        reasons.append(f"the store is down, the applier is retrying: {applier['last_error']}")
    elif applier["state"] == "stopped" and running:
        reasons.append("the applier is not running")
    elif receiver["inbox_depth"] and applier["since_progress_s"] > cfg.stall_s:
        reasons.append(
            f"the applier has made no progress for {applier['since_progress_s']:.0f} s "
            f"with {receiver['inbox_depth']} messages waiting"
        )
    if receiver["inbox_oldest_age_s"] > cfg.max_inbox_age_s:
        reasons.append(
            f"the inbox's oldest message is {receiver['inbox_oldest_age_s']:.0f} s old "
            f"(limit {cfg.max_inbox_age_s:g} s)"
        )
    if writes["failing"]:
        reasons.append(f"the receiver cannot commit to its inbox: {writes['last_error']}")
    if hj212 is not None and not hj212["running"] and running:
        reasons.append("the HJ 212 server is not running: data loggers cannot report")
    ok = not reasons
    body: dict[str, Any] = {
        "ok": ok,
        "store": "ok" if store_ok else "error",
        "mqtt": "connected" if mqtt_ok else "disconnected",
        "receiver": "up" if receiver["running"] else "down",
        "receiver_restarts": receiver["restarts"],
        "inbox_depth": receiver["inbox_depth"],
        "inbox_oldest_age_s": receiver["inbox_oldest_age_s"],
        "applier": applier["state"],
        "reasons": reasons,
        "dead_letters": dead_letters,
        "inbox_write_errors": writes["errors"],
    }
    if hj212 is not None:
        body["hj212"] = "up" if hj212["running"] else "down"
        body["hj212_restarts"] = hj212["restarts"]
    return ok, body
