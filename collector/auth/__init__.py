"""People, not a token (issue 16): named users with roles, their sessions and API tokens, login lock-out, and
the audit log. Storage is the collector's store (collector/store/auth_rows.py); the HTTP side is
collector/api/auth.py; the commands are ``qingliu collector user ...`` (collector/auth/cli.py)."""
