"""The widgets' number readouts (issue 25, finding 8): a value that rounds to zero never reads "-0.00"."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[1] / "stn_course" / "widgets" / "static"
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="Node.js (`node`) is not installed")
def test_fixed_never_shows_a_negative_zero(tmp_path):
    shutil.copy(STATIC / "ui.js", tmp_path / "ui.js")
    (tmp_path / "package.json").write_text('{"type": "module"}')
    cases = [(-0.0001, 2), (-0.004, 2), (0.0, 2), (-0.0, 0), (-0.4, 0), (-0.006, 2), (1.005, 1), (-12.5, 1)]
    (tmp_path / "run.js").write_text('import { fixed } from "./ui.js";\n'
                                     f"console.log(JSON.stringify({json.dumps(cases)}.map(([v, d]) => fixed(v, d))));")
    out = subprocess.run([NODE, "run.js"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["0.00", "0.00", "0.00", "0", "0", "-0.01", "1.0", "-12.5"]


def test_every_readout_formats_through_fixed():
    """No explorer formats a number with a bare toFixed, which prints "-0.00" for -0.0001."""
    bare = {p.name: re.findall(r".*\.toFixed\(.*", p.read_text()) for p in STATIC.glob("*.js")}
    allowed = ("ui.js", "nn.js")  # fixed itself; nn.js formats nothing a reader sees
    styling = re.compile(r"style\.width|fillStyle|rgba\(")  # CSS values, not readouts
    offenders = {name: [l.strip() for l in lines if not styling.search(l)] for name, lines in bare.items()
                 if name not in allowed}
    assert not {k: v for k, v in offenders.items() if v}, offenders
