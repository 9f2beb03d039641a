"""report.json: the Report model as JSON, and the JSON Schema it follows."""

from __future__ import annotations

import json

from pubsafe.models.verdicts import Report

__all__ = ["render", "schema"]


def render(report: Report) -> str:
    data = report.model_dump(mode="json")
    data["conforming"] = report.conforming
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def schema() -> str:
    document = Report.model_json_schema()
    document["properties"]["conforming"] = {"type": "boolean", "description": "every claimed guarantee as expected"}
    document["required"] = [*document.get("required", []), "conforming"]
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
