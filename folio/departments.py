"""Departments: per collection, the model on the LLM server that answers its questions and an
extra instruction for the system prompt.

A department is a collection with its own manuals and, optionally, its own model (a vLLM LoRA
adapter served with `--lora-modules hr=/adapters/hr`, or any other model on the same server) and
its own wording ("answer for HR staff; name the policy number"). They live in one TOML file
named by `FOLIO_DEPARTMENTS_FILE`, not in per-collection `FOLIO_*` variables: instructions run to
several lines, which environment variables carry badly, and the file is one reviewable place an
operator versions with the rest of the deployment. The file is read once, when the app or a
command starts; a mistake in it stops start-up with one line naming the file, the table and the
reason.

    [hr]
    model = "hr"
    instruction = "Staff ask about leave and pay. Name the policy number when a passage has one."
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SETTING = "FOLIO_DEPARTMENTS_FILE"
# The collection names the upload form accepts (services.uploads.COLLECTION_RE): a
# department's name is also part of a model id (`folio-hr`) and of a URL path.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MODEL_RE = re.compile(r"^[^\s\x00-\x1f]{1,256}$")
MAX_INSTRUCTION_CHARS = 4000
KEYS = ("model", "instruction", "description")


class DepartmentsError(ValueError):
    """The departments file cannot be used; the message is one line naming file and reason."""


@dataclass(frozen=True)
class Department:
    collection: str
    model: str | None = None  # the model name on the LLM server; None = FOLIO_LLM_MODEL
    instruction: str | None = None  # appended to the operator's preamble in the system prompt
    description: str | None = None  # shown in /v1/models


@dataclass(frozen=True)
class Departments:
    by_collection: Mapping[str, Department] = field(default_factory=dict)

    def get(self, collection: str) -> Department | None:
        return self.by_collection.get(collection)

    def for_scope(self, collections: Sequence[str] | None) -> Department | None:
        """The department whose model and instruction answer a question searched in
        `collections`: only when that is exactly one collection. A question over several
        collections (or all of them) is the whole library's, answered by the default model."""
        if collections is None or len(set(collections)) != 1:
            return None
        return self.by_collection.get(next(iter(collections)))

    def names(self) -> Iterable[str]:
        return self.by_collection.keys()


NONE = Departments()


def load_departments(path: Path | None) -> Departments:
    """Read and check the departments file; no file configured = no departments."""
    if path is None:
        return NONE
    where = f"{SETTING} {path}"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DepartmentsError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DepartmentsError(f"{where}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise DepartmentsError(f"{where}: not valid TOML ({exc})") from None
    found = {}
    for name, table in raw.items():
        found[name] = _department(where, name, table)
    return Departments(found)


def _department(where: str, name: str, table: object) -> Department:
    if not isinstance(table, dict):
        raise DepartmentsError(
            f"{where}: {name!r} must be a table ([{name}] with model and/or instruction)"
        )
    if not NAME_RE.match(name):
        raise DepartmentsError(
            f"{where}: [{name}] is not a collection name (letters, digits, '.', '_', '-'; "
            "at most 64, starting with a letter or digit)"
        )
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise DepartmentsError(
            f"{where}: [{name}] has unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}"
        )
    values: dict[str, str | None] = {}
    for key in KEYS:
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise DepartmentsError(f"{where}: [{name}] {key} must be a non-empty string")
        values[key] = value.strip() if isinstance(value, str) else None
    model = values["model"]
    if model is not None and not MODEL_RE.match(model):
        raise DepartmentsError(
            f"{where}: [{name}] model {model!r} is not a model name (no spaces or control "
            "characters, at most 256 characters)"
        )
    instruction = values["instruction"]
    if instruction is not None and len(instruction) > MAX_INSTRUCTION_CHARS:
        raise DepartmentsError(
            f"{where}: [{name}] instruction is {len(instruction)} characters; the limit is "
            f"{MAX_INSTRUCTION_CHARS} (it is sent with every question)"
        )
    if model is None and instruction is None:
        raise DepartmentsError(f"{where}: [{name}] sets neither model nor instruction")
    return Department(name, model, instruction, values["description"])
