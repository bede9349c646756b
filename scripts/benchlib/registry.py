"""servers/models.json, the registry of the project's own I/O models, as the
Python tools read it: the bench's server specs (models.py), the plots'
colours and labels, the demo's model names.

Ids in the registry may hold placeholders: {pool} (the bench's --pool) and
{cpus} (the size of the server CPU set, for the variants that use all of
it). colour(), label() and short() accept an expanded id ("threaded-pool64",
"epoll-cpus4") as well as a peer's name (from peers.PEER_STYLE), and return
None for an id they do not know, so a caller can choose its own fallback.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

REGISTRY = Path(__file__).resolve().parent.parent.parent / "servers" / "models.json"
PLACEHOLDERS = ("pool", "cpus")


@dataclass(frozen=True)
class Variant:
    model: str                  # the model's name (its folder under servers/)
    binary: str
    probe: Optional[tuple]      # arguments that exit 0 when this machine can run it
    id: str
    label: str
    short: str                  # the demo table's name (a projector's width)
    args: tuple
    colour: str
    scenarios: Optional[frozenset]
    why_not: dict
    profiles: Optional[frozenset]
    processes: int
    cpus: str                   # "one": one CPU of the server set; "all": all of it


class RegistryError(ValueError):
    pass


@lru_cache(maxsize=4)
def load(path: Path = REGISTRY) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise RegistryError(f"cannot read the model registry {path}: {e}") from e
    if not isinstance(data.get("models"), list):
        raise RegistryError(f"{path}: no 'models' list")
    for m in data["models"]:
        for v in m.get("variants", []):
            if v.get("cpus", "one") not in ("one", "all"):
                raise RegistryError(f"{path}: variant {v.get('id')}: cpus must be \"one\" or \"all\"")
    return data


def _expand(text: str, values: dict) -> str:
    for key in PLACEHOLDERS:
        if key in values:
            text = text.replace("{" + key + "}", str(values[key]))
    return text


def variants(pool: int, server_cpus: int, path: Path = REGISTRY) -> list[Variant]:
    """Every variant of every model with its placeholders filled in."""
    values = {"pool": pool, "cpus": server_cpus}
    out = []
    for m in load(path)["models"]:
        for v in m.get("variants", []):
            scenarios = v.get("scenarios")
            profiles = v.get("profiles")
            out.append(Variant(
                model=m["name"], binary=m["binary"],
                probe=tuple(m["probe"]) if m.get("probe") else None,
                id=_expand(v["id"], values), label=_expand(v["label"], values),
                short=_expand(v.get("short") or v["id"], values),
                args=tuple(_expand(a, values) for a in v.get("args", [])),
                colour=v["colour"],
                scenarios=frozenset(scenarios) if scenarios is not None else None,
                why_not=dict(v.get("why_not") or {}),
                profiles=frozenset(profiles) if profiles is not None else None,
                processes=int(v.get("processes", 1)), cpus=v.get("cpus", "one")))
    return out


def all_cpus_why_not(path: Path = REGISTRY) -> dict[str, str]:
    """model name -> why it has no variant on all the server CPUs."""
    return {m["name"]: m["all_cpus_why_not"] for m in load(path)["models"]
            if m.get("all_cpus_why_not")}


def _match(template: str, model_id: str) -> Optional[dict]:
    """The placeholder values if model_id is template filled in, else None."""
    pattern = re.escape(template)
    for key in PLACEHOLDERS:
        pattern = pattern.replace(re.escape("{" + key + "}"), rf"(?P<{key}>\d+)")
    match = re.fullmatch(pattern, model_id)
    return match.groupdict() if match else None


@lru_cache(maxsize=256)
def _entry(model_id: str) -> Optional[tuple[dict, dict]]:
    """(style, placeholder values) of the registry variant or the peer whose
    id matches; style has label, colour and (ours) short."""
    for m in load()["models"]:
        for v in m.get("variants", []):
            values = _match(v["id"], model_id)
            if values is not None:
                return v, values
    from .peers import PEER_STYLE   # peers.py imports models.py, which imports this
    for template, style in PEER_STYLE.items():
        values = _match(template, model_id)
        if values is not None:
            return style, values
    return None


def ours(model_id: str) -> bool:
    """True for a variant of one of our models (not a peer, not unknown)."""
    return any(_match(v["id"], model_id) is not None
               for m in load()["models"] for v in m.get("variants", []))


def colour(model_id: str) -> Optional[str]:
    """The model's (or peer's) colour in every plot; None if unknown."""
    found = _entry(model_id)
    return found[0]["colour"] if found else None


def label(model_id: str) -> Optional[str]:
    """The legend of a model or peer; None if unknown."""
    found = _entry(model_id)
    return _expand(found[0]["label"], found[1]) if found else None


def short(model_id: str) -> Optional[str]:
    """The demo table's name of a model or peer; None if unknown."""
    found = _entry(model_id)
    if not found:
        return None
    style, values = found
    return _expand(style.get("short") or style.get("id") or model_id, values)


def ids(path: Path = REGISTRY) -> list[str]:
    """Variant ids as declared (with their placeholders)."""
    return [v["id"] for m in load(path)["models"] for v in m.get("variants", [])]
