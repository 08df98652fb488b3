"""Writing the users file (`folio users add`), and the start-up hint when nobody can log in.

A server bound to anything but loopback turns auth on. Before this module, such a server (the
Docker image binds 0.0.0.0) started with no user, and nobody could log in while nothing said
why. The users file (`name:scrypt$…[:collections]`, read by `services.auth.Users` and
re-read when it changes, so a running server sees a new user at once) is written here only.

The file has no roles: every user may ask, upload and delete within the collections the line
lists, and a line without collections sees all of them. That is what `--admin` writes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from folio.settings import Settings
from services.auth import auth_enabled, hash_password, parse_users

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8


class UserFileError(ValueError):
    """A user that cannot be added; the message says why."""


def users_path(settings: Settings) -> Path:
    return settings.users_file or settings.data_dir / "users.txt"


def add_user(
    settings: Settings,
    name: str,
    password: str,
    *,
    collections: list[str] | None = None,
    replace: bool = False,
) -> Path:
    """Add (or with `replace`, re-hash) a user; the file is rewritten atomically, mode 600."""
    if not _NAME.match(name):
        raise UserFileError(
            f"user name {name!r}: use letters, digits and . _ @ - (at most 64, no ':')"
        )
    if len(password) < MIN_PASSWORD:
        raise UserFileError(f"the password needs at least {MIN_PASSWORD} characters")
    colls = [c.strip() for c in collections or [] if c.strip()]
    if any(":" in c or "," in c for c in colls):
        raise UserFileError("a collection name cannot contain ':' or ','")
    path = users_path(settings)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    existing, errors = parse_users(text)
    if errors:
        raise UserFileError(f"{path}: {errors[0]}; fix the file first")
    if name in existing and not replace:
        raise UserFileError(f"user {name!r} exists in {path} (--replace sets a new password)")
    line = f"{name}:{hash_password(password)}" + (f":{','.join(colls)}" if colls else "")
    kept = [raw for raw in text.splitlines() if raw.strip().split(":", 1)[0] != name]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join([*kept, line]) + "\n")
    os.replace(tmp, path)
    return path


def first_user_hint(settings: Settings, users: int, keys: int) -> str | None:
    """What to print at start-up when auth is on and nobody can get in; None otherwise."""
    if not auth_enabled(settings) or users or keys or settings.trusted_user_header:
        return None
    return (
        f"auth is on (listening on {settings.host}) and no user exists, so nobody can log in. "
        "Create the first one:  folio users add NAME --admin"
        "  (in Docker: docker exec -it CONTAINER folio users add NAME --admin); "
        f"it is written to {users_path(settings)} and the running server sees it at once."
    )
