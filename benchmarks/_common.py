"""Helpers shared by the benchmark scripts that run CLI jobs and write RESULTS.md."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "RESULTS.md"


def run_json(module: str, args: list[str], out: Path, rerun: bool) -> dict:
    """Run ``python -m module args… --json out`` (unless ``out`` exists) and return its JSON."""
    if out.exists() and not rerun:
        return json.loads(out.read_text())
    start = time.time()
    subprocess.run([sys.executable, "-m", module, *args, "--json", str(out)], cwd=ROOT, check=True,
                   capture_output=True, text=True)  # fmt: skip
    result = json.loads(out.read_text())
    print(f"{out.stem}: test error {100 * result['test_error']:.2f}% in {time.time() - start:.0f} s", flush=True)
    return result


def write_section(name: str, body: str, results: Path = RESULTS) -> None:
    """Replace the text between ``<!-- name -->`` markers in ``results`` (append if absent)."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    text = results.read_text() if results.exists() else "# Results\n"
    block = f"{begin}\n{body.strip()}\n{end}"
    if begin in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    results.write_text(text)
