"""An upgraded collector opens a store made before users existed: its data stays, the auth tables appear."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collector.auth.accounts import Accounts
from collector.auth.roles import Role
from collector.store.base import Received
from collector.store.sqlite import SqliteStore
from protocols.messages import Reading, ReadingBatch

T0 = datetime(2026, 12, 1, tzinfo=UTC)
AUTH_TABLES = ("users", "sessions", "api_tokens", "audit_log")


def test_a_store_from_before_issue_16_keeps_its_readings_and_gains_the_auth_tables(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    old = SqliteStore(path)
    batch = ReadingBatch(
        station="hexicun", seq=1, sent_at=T0, readings=[Reading(param="w01010", t=T0, value=12.5, device="p")]
    )
    old.apply([Received(batch, T0)])
    with old._transaction() as db:  # the store as the previous version left it
        for trigger in ("audit_log_no_update", "audit_log_no_delete"):
            db.execute(f"DROP TRIGGER {trigger}")
        for table in AUTH_TABLES:
            db.execute(f"DROP TABLE {table}")
    old.close()

    upgraded = SqliteStore(path)
    try:
        assert [r.value for r in upgraded.readings("hexicun", param="w01010")] == [12.5]
        accounts = Accounts(upgraded.auth())
        accounts.add_user("li", Role.ADMIN, "a long password")
        assert accounts.login("li", "a long password", "local").principal is not None
    finally:
        upgraded.close()
