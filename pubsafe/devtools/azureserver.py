"""Azurite, Microsoft's Azure Storage emulator, on loopback for tests and tools.

    python -m pubsafe.devtools.azureserver install   # npm install azurite into this environment

Azurite is an npm package; ``install`` puts a pinned version under ``<sys.prefix>/azurite``
(``tasks.py test`` runs it once per ``.venv``). ``local_azure`` starts its blob service on
a free loopback port, in memory, creates a container, sets
``AZURE_STORAGE_CONNECTION_STRING`` for the duration (so ``open_store("az://container/p")``
talks to it) and stops it on exit.

The version is 3.33.0: the last that runs on Node.js 20 without collecting telemetry
(3.34 added it; 3.36 needs Node.js 22), and a third of the newer ones' size on disk.
Azurite takes Put Blob's ``If-None-Match`` / ``If-Match`` check and the write in one
synchronous step of its single-threaded event loop, so its conditional writes are atomic
as Azure's are: pubsafe's racing probes run against it as they are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .loopback import free_port, wait_until_listening

__all__ = ["AZURITE_VERSION", "ACCOUNT", "azurite_command", "install_azurite", "local_azure"]

AZURITE_VERSION = "3.33.0"
#: Azurite's well-known development account and key (public, documented by Microsoft)
ACCOUNT = "devstoreaccount1"
_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_FOLDER = Path(sys.prefix) / "azurite"
_STAMP = _FOLDER / ".pubsafe-installed"


def azurite_command() -> list[str] | None:
    """How to run Azurite's blob service here, or None: ``$PUBSAFE_AZURITE`` (an
    ``azurite-blob`` executable), the copy ``install`` finished, or ``azurite-blob`` on PATH."""
    given = os.environ.get("PUBSAFE_AZURITE")
    if given:
        return [given]
    installed = _FOLDER / "node_modules" / ".bin" / "azurite-blob"
    complete = _STAMP.exists() and _STAMP.read_text() == AZURITE_VERSION  # not an npm install cut short
    if complete and installed.exists() and shutil.which("node"):
        return [str(installed)]
    on_path = shutil.which("azurite-blob")
    return [on_path] if on_path else None


def install_azurite() -> str:
    """npm install the pinned Azurite under ``<sys.prefix>/azurite`` (once); returns what happened."""
    if _STAMP.exists() and _STAMP.read_text() == AZURITE_VERSION:
        return f"azurite {AZURITE_VERSION} already installed in {_FOLDER}"
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: the Azure tests need Node.js and npm to run Azurite")
    _FOLDER.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # --ignore-scripts: Azurite needs no build step; --prefer-offline: a warm npm cache costs no download
    subprocess.run([npm, "install", "--prefix", str(_FOLDER), "--no-audit", "--no-fund", "--ignore-scripts",
                    "--prefer-offline", "--fetch-retries=2", "--fetch-timeout=60000", "--loglevel=error",
                    f"azurite@{AZURITE_VERSION}"], check=True, timeout=600)
    _STAMP.write_text(AZURITE_VERSION)
    return f"installed azurite {AZURITE_VERSION} in {_FOLDER} in {time.monotonic() - started:.0f} s"


def connection_string(endpoint: str) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={_KEY};"
            f"BlobEndpoint={endpoint}/{ACCOUNT};")


@contextlib.contextmanager
def local_azure(container: str = "pubsafe") -> Iterator[str]:
    """Start Azurite's blob service, create ``container``, yield the blob endpoint URL."""
    command = azurite_command()
    if command is None:
        raise RuntimeError("Azurite is not installed: python -m pubsafe.devtools.azureserver install "
                           "(needs Node.js and npm), or set PUBSAFE_AZURITE to an azurite-blob executable")
    from azure.storage.blob import BlobServiceClient

    port = free_port()
    workspace = tempfile.mkdtemp(prefix="pubsafe-azurite-")
    # --skipApiVersionCheck: the client speaks a newer API version than this Azurite knows,
    # for requests it serves alike; --loose: headers it does not know are ignored, not refused
    server = subprocess.Popen(
        [*command, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
         "--skipApiVersionCheck", "--silent", "--loose"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=workspace,
    )
    endpoint = f"http://127.0.0.1:{port}"
    saved = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    try:
        wait_until_listening(server, port, "Azurite", 60)
        os.environ["AZURE_STORAGE_CONNECTION_STRING"] = connection_string(endpoint)
        BlobServiceClient.from_connection_string(connection_string(endpoint)).create_container(container)
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(workspace, ignore_errors=True)
        if saved is None:
            os.environ.pop("AZURE_STORAGE_CONNECTION_STRING", None)
        else:
            os.environ["AZURE_STORAGE_CONNECTION_STRING"] = saved


def main(argv: list[str]) -> int:
    if argv != ["install"]:
        print(__doc__)
        return 2
    try:
        print(install_azurite())
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        print(f"azurite was not installed ({exc}); the Azure tests will be skipped", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
