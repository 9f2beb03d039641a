"""Every Python block of the README runs as written (a user pastes them), from a
directory holding what the README says is there (./split: upstream's split-root
fixture, copied)."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from support import DATA, REPO

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)


def test_the_readme_has_python_blocks_to_run():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_python_block_runs_as_written(index, tmp_path, monkeypatch):
    shutil.copytree(DATA / "upstream" / "healthy-split-roots" / "store", tmp_path / "split")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PUBSAFE_STORE", "")
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), {"__name__": "readme"})


def test_a_broken_block_fails(tmp_path, monkeypatch):
    """The test above can fail: the README's old API snippet (a rollback with one
    manifest in history) raises."""
    from pubsafe.refimpl.errors import RollbackRefused

    monkeypatch.chdir(tmp_path)
    old = ("from pubsafe.refimpl import Engine, open_store\nengine = Engine(open_store('./pub'))\n"
           "engine.publish('acme', 'home', {'model': 1})\nengine.rollback('acme', 'home', steps=1)\n")
    with pytest.raises(RollbackRefused):
        exec(compile(old, "old snippet", "exec"), {})
    assert os.path.isdir("pub")
