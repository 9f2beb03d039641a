"""Developer tools: the scripts that regenerate what the repository commits, and
measurements. They may import anything of pubsafe's; nothing imports them but the
tests and tasks.py.

- ``regenerate``:        reference reports, the report schema, the mutant catalogue
                         and the teaching doc (``python -m pubsafe.devtools.regenerate``)
- ``teaching``:          the mutant table and docs/safety-model-by-example.md
- ``mutants``:           time to detect per mutant
- ``benchmark_report``:  docs/benchmarks.md from a pytest-benchmark run
- ``load``, ``economy``: concurrent publish load; store requests per publish
- ``s3server``:          moto's S3 server on loopback, for tests and tools
- ``azureserver``:       Azurite (Azure Blob emulator) on loopback; installs it with npm
- ``gcsserver``:         fake-gcs-server (GCS emulator) on loopback
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["repository_root"]


def repository_root() -> Path:
    """The checkout these tools write into (they regenerate committed files)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").exists() or not (root / "docs").is_dir():
        raise SystemExit(f"{root} is not a pubsafe checkout: run the developer tools from an editable install")
    return root
