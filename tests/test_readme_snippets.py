"""Every Python snippet in the README's "Python API" section (and the opening example) runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _snippets() -> list[str]:
    text = (ROOT / "README.md").read_text()
    api = text[text.index("## Python API") :]
    api = api[: api.index("\n## ", 1)]
    opening = text[: text.index("## ", text.index("# gpuml") + 2)]
    blocks = re.findall(r"```python\n(.*?)```", opening + api, re.S)
    assert len(blocks) >= 8, "the README's Python API section lost its examples"
    return blocks


@pytest.mark.parametrize("code", _snippets(), ids=lambda c: c.strip().splitlines()[-1][:40])
def test_readme_snippet_runs(code, tmp_path):
    env = {**os.environ, "GPUML_TUNE": "0", "GPUML_QUIET": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() or "assert" in code, "a snippet should show its result"
