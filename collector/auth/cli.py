"""``qingliu collector user``: the dashboard's people, managed on the central server.

qingliu collector user add NAME --role viewer|operator|admin --config FILE [--password-stdin]
qingliu collector user passwd NAME --config FILE [--password-stdin]
qingliu collector user role NAME viewer|operator|admin --config FILE
qingliu collector user disable NAME --config FILE     (ends the user's sessions and API tokens)
qingliu collector user enable NAME --config FILE
qingliu collector user token NAME --label LABEL --config FILE   (prints a new API token once)
qingliu collector user list --config FILE

A password is asked twice on a terminal, or read from the first line of stdin with --password-stdin (scripts,
the demo). It is never an argument: arguments show in ``ps`` and in shell histories. Each change is written to
the audit log as done by ``cli`` from ``local``. Exit status 2 for a bad config, store or request.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TextIO

from collector.auth.accounts import AccountError, Accounts, Principal
from collector.auth.roles import NAMES, Role
from collector.config import load_config
from collector.store import open_store_for_command
from protocols.errors import ConfigError

PROG = "qingliu collector user"
CLI = Principal("cli", Role.ADMIN, "cli")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser(
        "user", help="add, change, disable and list dashboard users", description=__doc__.split("\n\n")[0]
    )
    actions = user.add_subparsers(dest="action", required=True)
    for name, text in (
        ("add", "add a user with a role"),
        ("passwd", "set a user's password"),
        ("role", "change a user's role"),
        ("disable", "disable a user: sessions and API tokens end"),
        ("enable", "enable a disabled user"),
        ("token", "make an API token for a user's scripts (printed once)"),
        ("list", "list the users"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("--config", required=True, help="collector TOML file")
        if name != "list":
            action.add_argument("name", help="user name")
        if name == "add":
            action.add_argument("--role", required=True, choices=NAMES)
        if name == "role":
            action.add_argument("role", choices=NAMES)
        if name in ("add", "passwd"):
            action.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        if name == "token":
            action.add_argument("--label", required=True, help="what the token is for (e.g. the script)")


def _password(from_stdin: bool, stdin: TextIO) -> str:
    if from_stdin:
        return stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the passwords differ")
    return first


def run(
    args: argparse.Namespace, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr, stdin: TextIO = sys.stdin
) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 2
    store = open_store_for_command(config.store.url, PROG, err)
    if store is None:
        return 2
    accounts = Accounts(store.auth())
    try:
        return _act(accounts, args, out, stdin)
    except AccountError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 2
    finally:
        store.close()


def _act(accounts: Accounts, args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    action = args.action
    if action == "list":
        for user in accounts.users():
            state = "enabled" if user.enabled else "disabled"
            out.write(
                f"{user.name:<24} {user.role:<9} {state:<9} changed {user.changed_at:%Y-%m-%d %H:%M} UTC\n"
            )
        return 0
    name = args.name
    if action == "add":
        accounts.add_user(name, Role.parse(args.role), _password(args.password_stdin, stdin))
        detail: dict[str, object] = {"role": args.role}
    elif action == "passwd":
        accounts.set_password(name, _password(args.password_stdin, stdin))
        detail = {}
    elif action == "role":
        accounts.set_role(name, Role.parse(args.role))
        detail = {"role": args.role}
    elif action in ("disable", "enable"):
        accounts.set_enabled(name, action == "enable")
        detail = {}
    else:  # token
        out.write(accounts.new_token(name, args.label) + "\n")
        detail = {"label": args.label}
    accounts.audit(CLI, "local", f"user.{action}", name, detail)
    if action != "token":
        out.write(f"{PROG} {action}: {name} done\n")
    return 0
