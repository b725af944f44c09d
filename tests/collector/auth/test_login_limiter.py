from __future__ import annotations

from collector.auth.limiter import LoginLimiter


def test_the_nth_failure_locks_the_key_for_the_lockout_and_a_success_clears_the_count() -> None:
    limiter = LoginLimiter(max_failures=3, lockout_s=60)
    assert not limiter.failed("u", 0) and not limiter.failed("u", 1)
    limiter.succeeded("u")
    assert not limiter.failed("u", 2) and not limiter.failed("u", 3)
    assert limiter.failed("u", 4)
    assert limiter.locked_for("u", 10) == 54
    assert limiter.locked_for("other", 10) == 0
    assert limiter.locked_for("u", 64) == 0
    assert not limiter.failed("u", 65)  # counting starts afresh after a lock-out ran out
