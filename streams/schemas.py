"""JSON Schemas (Draft 2020-12) of the data contract, generated from the pydantic models.

`python -m streams.schemas` rewrites schemas/; a test fails when the committed files drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from streams.events import (
    Alert,
    AnalystFeedback,
    CallEvent,
    CallVerdict,
    DeadLetter,
    SubscriberWarning,
    WarningRetraction,
    Watermark,
)

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
MODELS: dict[str, type[BaseModel]] = {
    "call-event": CallEvent,
    "alert": Alert,
    "dead-letter": DeadLetter,
    "watermark": Watermark,
    "call-verdict": CallVerdict,
    "subscriber-warning": SubscriberWarning,
    "warning-retraction": WarningRetraction,
    "analyst-feedback": AnalystFeedback,
}


def schema_of(name: str) -> dict:
    model = MODELS[name]
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://cdrwatch.example/schemas/{name}.schema.json",
        **schema,
    }


def render(name: str) -> str:
    return json.dumps(schema_of(name), indent=2, sort_keys=True) + "\n"


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        (out / f"{name}.schema.json").write_text(render(name))
        print(f"wrote {out / f'{name}.schema.json'}")


if __name__ == "__main__":
    main()
