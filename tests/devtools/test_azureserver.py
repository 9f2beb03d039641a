"""Azurite's installer and lookup without Node.js, npm or a finished install: the Azure
tests are then skipped, saying why, and ``tasks.py test`` goes on (it never fails on it)."""

from __future__ import annotations

import pytest

from pubsafe.devtools import azureserver


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No node, npm or azurite-blob on PATH, nothing installed, no $PUBSAFE_AZURITE."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.delenv("PUBSAFE_AZURITE", raising=False)
    folder = tmp_path / "azurite"
    monkeypatch.setattr(azureserver, "_FOLDER", folder)
    monkeypatch.setattr(azureserver, "_STAMP", folder / ".pubsafe-installed")
    return folder


def test_without_npm_install_says_so_and_the_tests_will_be_skipped(nowhere, capsys):
    assert azureserver.main(["install"]) == 1
    err = capsys.readouterr().err
    assert "npm is not installed" in err and "the Azure tests will be skipped" in err
    assert azureserver.azurite_command() is None and not nowhere.exists()


def test_an_install_cut_short_is_not_taken_for_azurite(nowhere, tmp_path, monkeypatch):
    """npm stopped after laying out the executable, before the stamp: not used."""
    executable = nowhere / "node_modules" / ".bin" / "azurite-blob"
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    node = tmp_path / "empty-bin" / "node"
    node.parent.mkdir()
    node.write_text("#!/bin/sh\n")
    node.chmod(0o755)
    assert azureserver.azurite_command() is None
    (nowhere / ".pubsafe-installed").write_text(azureserver.AZURITE_VERSION)
    assert azureserver.azurite_command() == [str(executable)]


def test_pubsafe_azurite_names_the_executable(nowhere, monkeypatch):
    monkeypatch.setenv("PUBSAFE_AZURITE", "/opt/azurite/bin/azurite-blob")
    assert azureserver.azurite_command() == ["/opt/azurite/bin/azurite-blob"]


def test_local_azure_without_azurite_is_a_clear_error(nowhere):
    with pytest.raises(RuntimeError, match="Azurite is not installed"), azureserver.local_azure():
        pass
