"""The models Folio offers OpenAI clients: `folio` (every collection the caller may read) and
`folio-<collection>` for each of those collections, so a user of Open WebUI or Dify picks a
department by picking a model. A department's own LLM model and instruction
(folio/departments.py) then answer, because its questions are searched in that one collection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services import qa
from services.auth import Principal
from services.errors import ServiceError
from services.runtime import Runtime

MODEL_ID = "folio"
PREFIX = MODEL_ID + "-"


@dataclass(frozen=True)
class ModelCard:
    id: str
    collections: list[str] | None  # None: every collection the caller may read
    description: str


def readable_collections(rt: Runtime, principal: Principal) -> list[str]:
    """The collections the caller may read: its grant, or (unrestricted) every collection with
    a manual, the default one and every department."""
    if principal.collections is not None:
        return sorted(principal.collections)
    return sorted(set(rt.library.collections(principal)) | set(rt.departments.names()))


def model_cards(rt: Runtime, principal: Principal) -> list[ModelCard]:
    """`folio` first, then one model per readable collection; nothing for a caller who may read
    no collection (every question would be refused with 403)."""
    colls = readable_collections(rt, principal)
    if not colls:
        return []
    cards = [ModelCard(MODEL_ID, None, "All the manuals you may read: " + ", ".join(colls))]
    for c in colls:
        dept = rt.departments.get(c)
        text = dept.description if dept is not None and dept.description else None
        cards.append(ModelCard(PREFIX + c, [c], text or f"The manuals of collection {c!r}"))
    return cards


def find_model(rt: Runtime, principal: Principal, model_id: str) -> ModelCard:
    """The card for `model_id`; 404 for an unknown model and for one the caller may not read
    (the two look the same: a key does not learn which collections exist)."""
    for card in model_cards(rt, principal):
        if card.id == model_id:
            return card
    available = ", ".join(c.id for c in model_cards(rt, principal)) or "none"
    raise ServiceError(
        404,
        f"no model {model_id!r} here; the models you may use are: {available} "
        "(GET /v1/models lists them)",
        "model_not_found",
    )


def chat_collections(
    rt: Runtime, principal: Principal, model_id: str | None, requested: Sequence[str] | None
) -> list[str] | None:
    """The collections a chat request searches: its model's (`folio-hr` → hr), narrowed by the
    request's own `collections` when the model is `folio`."""
    if principal.collections is not None and not principal.collections:
        qa.scope(principal, None)  # 403, saying how collections are granted
    card = find_model(rt, principal, model_id or MODEL_ID)
    if card.collections is None:
        return list(requested) if requested else None
    if requested and set(requested) != set(card.collections):
        raise ServiceError(
            422,
            f"model {card.id!r} searches collection {card.collections[0]!r} only; drop "
            f"`collections` or use model {MODEL_ID!r} to choose collections",
        )
    return card.collections
