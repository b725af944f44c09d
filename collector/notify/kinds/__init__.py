"""The built-in notifier kinds, one module each; importing a module registers its kind.
A new kind is a new module here and one import line."""

from collector.notify.kinds import dingtalk, mqtt, webhook, wecom

__all__ = ["dingtalk", "mqtt", "webhook", "wecom"]
