"""Helpers shared by the benchmark scripts that run CLI jobs and write RESULTS.md."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

# shared with the library, re-exported for the benchmark scripts
from fw_agents.compare import THRESHOLDS, mean_std, steps_to, thousands
from fw_agents.plotting import pyplot  # noqa: F401

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


def threshold_cells(curves: list) -> list[str]:
    """Per threshold of :data:`THRESHOLDS`, each curve's env steps to reach it, in thousands."""
    return [", ".join(thousands(steps_to(c.steps, c.values, t)) for c in curves) for t in THRESHOLDS]


def episode_inputs(env: gym.Env, seed: int) -> torch.Tensor:
    """The (flattened) observations of one random-action episode, one row per step that an action
    answered (the final observation excluded)."""
    obs, _ = env.reset(seed=seed)
    frames, done = [], False
    while not done:
        frames.append(obs.reshape(-1))
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated
    return torch.tensor(np.array(frames), dtype=torch.float32)


def report(body: str, section: str, quick: bool) -> None:
    """Print the section in ``--quick`` mode (a pipeline check), else write it into RESULTS.md."""
    if quick:
        print(body)
    else:
        write_section(section, body)
        print(f"wrote the {section!r} section of {RESULTS.name}")


def paper_table(results: dict, models: list[str], names: dict, sizes: list[int], paper: dict, size: str) -> str:
    """Markdown: per model, ours (mean ± std test error %, over ``results[(model, n)]``) beside the paper's,
    ``paper[model][n]`` (``—`` for a model or size the paper did not run, such as the package's default
    fast-weight core)."""
    header = " | ".join(f"{size}={n} ours | {size}={n} paper" for n in sizes)
    lines = [f"| model | {header} |", "|---|" + "---|---|" * len(sizes)]
    for model in models:
        cells = [names[model]]
        for n in sizes:
            reported = paper.get(model, {}).get(n)
            cells += [mean_std([100 * r["test_error"] for r in results[(model, n)]]),
                      f"{reported:.2f}" if reported is not None else "—"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_seed(results: dict, names: dict, size: str) -> str:
    """``"LSTM H=50: 17.21, 18.02; …"``: every run's test error % of ``results[(model, n)]``, seeds in order."""
    return "; ".join(
        f"{names[model]} {size}={n}: " + ", ".join(f"{100 * r['test_error']:.2f}" for r in runs)
        for (model, n), runs in results.items()
    )


def run_minutes(results: dict) -> str:
    """``"58 min"``: the runs' own wall clocks added up (finished runs reused from disk count as they ran)."""
    return f"{sum(r['seconds'] for runs in results.values() for r in runs) / 60:.0f} min"


def time_limited(results: dict) -> list[str]:
    """``"fw 50 seed 1 (8,112 of 20000 steps)"`` for each run its time limit cut short."""
    cut = [r for runs in results.values() for r in runs if r.get("stopped_by_time")]
    return [f"{r['core']} {r['hidden']} seed {r['seed']} ({r['steps']:,} of {r['steps_budget']} steps)" for r in cut]
