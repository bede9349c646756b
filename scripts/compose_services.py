#!/usr/bin/python3
"""The server services of docker-compose.yml, one per model of the registry
(servers/models.json): the block between the two marker lines is generated
here, the rest of the file is written by hand.

  /usr/bin/python3 scripts/compose_services.py           rewrite the block
  /usr/bin/python3 scripts/compose_services.py --check   exit 1 if it is stale

A model with a "compose" entry gets a service: the entry gives its extra
arguments (compose variables such as ${IOMODELS_POOL:-64} allowed), its
compose profiles (a model that cannot run everywhere stays out of a plain
`up`) and a one-line note written above the service; a model without one has
no service. ctest runs --check (compose-services), so a compose entry without
its service, or a stale one, fails the tests.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "servers" / "models.json"
COMPOSE = ROOT / "docker-compose.yml"
BEGIN = "  # --- servers: generated from servers/models.json by scripts/compose_services.py ---"
END = "  # --- end of the generated servers ---"


def quoted(word: str) -> str:
    return json.dumps(word)  # a YAML flow sequence takes JSON strings


def services(registry: dict) -> list[str]:
    lines = [BEGIN]
    for model in registry["models"]:
        if "compose" not in model:
            continue
        compose = model["compose"]
        binary = model["binary"]
        command = [binary, "--host", "0.0.0.0", "--port", "8080", *compose.get("args", [])]
        lines.append(f"  {binary}:")
        lines.append("    <<: *server")
        if compose.get("note"):
            lines.append(f"    # {compose['note']}")
        if compose.get("profiles"):
            lines.append(f"    profiles: [{', '.join(quoted(p) for p in compose['profiles'])}]")
        lines.append(f"    command: [{', '.join(quoted(w) for w in command)}]")
        lines.append("")
    lines.append(END)
    return lines


def with_services(text: str, block: list[str]) -> str:
    lines = text.split("\n")
    try:
        begin, end = lines.index(BEGIN), lines.index(END)
    except ValueError:
        sys.exit(f"compose_services.py: {COMPOSE.name} has lost its marker lines:\n{BEGIN}\n{END}")
    return "\n".join(lines[:begin] + block + lines[end + 1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if the committed file differs from the registry")
    args = parser.parse_args()
    current = COMPOSE.read_text()
    wanted = with_services(current, services(json.loads(REGISTRY.read_text())))
    if args.check:
        if wanted != current:
            print(f"{COMPOSE.name} is stale: its server services do not match servers/models.json; "
                  "run /usr/bin/python3 scripts/compose_services.py", file=sys.stderr)
            return 1
        print(f"{COMPOSE.name}: the server services match servers/models.json")
        return 0
    if wanted != current:
        COMPOSE.write_text(wanted)
        print(f"rewrote the server services of {COMPOSE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
