"""Compare recurrent cores across memory tasks: a suite of envs, a grid of runs, a leaderboard.

A suite file (YAML; the project's own suites live in ``fw_agents/suites/``)::

    name: memory
    cores: [fw, lstm, gru]        # default cores (the command line may override)
    seeds: 3                      # default number of seeds: 0, 1, 2
    quick_timesteps: 2048         # the budget of every run under --quick
    envs:
      - env: MemoryCatch-v0
        timesteps: 300000         # optional: else hyperparams.yml's n_timesteps
        score: success            # success (is_success rate) or return
        max_return: 500           # with score: return — the score is return / max_return
        memoryless: 0.45          # optional references on the score's scale
        oracle: 1.0
        hyperparams: {...}        # optional: overrides for every core on this env
        eval_freq: 25000          # optional: env steps between evaluations

Every run is an ordinary ``train.ppo`` run folder (``DIR/runs/<env>_<core>_seed<k>``), run
through :mod:`fw_agents.sweep` (local processes or Ray); finished runs are skipped and
interrupted ones resume, so a suite can be filled in over several sittings.

Scores (all in [0, 1] before normalisation), from each run's periodic evaluations:

- **final**: the mean of the last :data:`FINAL_EVALS` evaluations (less noisy than the last one);
- **normalised**: ``(final − memoryless) / (oracle − memoryless)`` — 0 is what a policy without
  memory reaches, 1 the best possible; without references, memoryless = 0 and oracle = 1.
  Not clipped: a core below the memoryless level scores below 0;
- **steps to 50 / 80 / 95 %**: the first evaluation whose score reaches ``memoryless + f ·
  (oracle − memoryless)`` (``—``: never);
- **AUC**: the area under the score-vs-steps curve divided by the steps it spans (the mean score
  over training; rewards learning early);
- **overall** per core: the mean over envs of the seeds' mean normalised score.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fw_agents.config import is_number, positive_int, read_yaml
from fw_agents.errors import UsageError
from fw_agents.plotting import Curve, draw_curves, pyplot, read_evaluations
from fw_agents.sweep import Job, make_job

SUITES_DIR = Path(__file__).parent / "suites"
FINAL_EVALS = 3
THRESHOLDS = (0.5, 0.8, 0.95)
SCORES = ("success", "return")
ENV_KEYS = {"env", "timesteps", "score", "max_return", "memoryless", "oracle", "hyperparams", "eval_freq"}
SUITE_KEYS = {"name", "description", "cores", "seeds", "quick_timesteps", "envs"}


@dataclass
class SuiteEnv:
    """One env of a suite: its budget, how it is scored, its references and overrides."""

    env: str
    timesteps: int | None = None
    score: str = "success"
    max_return: float | None = None
    memoryless: float = 0.0
    oracle: float = 1.0
    hyperparams: dict[str, Any] = field(default_factory=dict)
    eval_freq: int | None = None

    def normalise(self, score: float) -> float:
        return (score - self.memoryless) / (self.oracle - self.memoryless)

    def threshold(self, fraction: float) -> float:
        return self.memoryless + fraction * (self.oracle - self.memoryless)


@dataclass
class Suite:
    """Envs × cores × seeds."""

    name: str
    envs: list[SuiteEnv]
    cores: list[str]
    seeds: list[int]
    quick_timesteps: int = 2048


def _number(value: Any, what: str) -> float:
    if not is_number(value):
        raise UsageError(f"{what} must be a number, got {value!r}")
    return float(value)


def parse_env(entry: Any, where: str) -> SuiteEnv:
    """A suite's env entry (a mapping, or a bare id) as a checked :class:`SuiteEnv`."""
    if isinstance(entry, str):
        entry = {"env": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("env"), str):
        raise UsageError(f"{where}: each env entry needs 'env: <id>', got {entry!r}")
    unknown = set(entry) - ENV_KEYS
    if unknown:
        raise UsageError(f"{where}: unknown keys {sorted(unknown)} in the entry of {entry['env']}; known: "
                         f"{sorted(ENV_KEYS)}")  # fmt: skip
    env = SuiteEnv(env=entry["env"])
    if entry.get("timesteps") is not None:
        env.timesteps = positive_int(entry["timesteps"], f"{where}: {env.env} timesteps")
    if entry.get("eval_freq") is not None:
        env.eval_freq = positive_int(entry["eval_freq"], f"{where}: {env.env} eval_freq")
    env.score = entry.get("score", "success")
    if env.score not in SCORES:
        raise UsageError(f"{where}: {env.env} score must be one of {', '.join(SCORES)}, got {env.score!r}")
    if env.score == "return":
        if entry.get("max_return") is None:
            raise UsageError(f"{where}: {env.env} is scored by return and needs max_return (score = return / max)")
        env.max_return = _number(entry["max_return"], f"{where}: {env.env} max_return")
        if env.max_return <= 0:
            raise UsageError(f"{where}: {env.env} max_return must be positive")
    env.memoryless = _number(entry.get("memoryless", 0.0), f"{where}: {env.env} memoryless")
    env.oracle = _number(entry.get("oracle", 1.0), f"{where}: {env.env} oracle")
    if env.oracle <= env.memoryless:
        raise UsageError(f"{where}: {env.env} needs oracle > memoryless, got {env.oracle} and {env.memoryless}")
    hyperparams = entry.get("hyperparams") or {}
    if not isinstance(hyperparams, dict):
        raise UsageError(f"{where}: {env.env} hyperparams must be a mapping, got {hyperparams!r}")
    env.hyperparams = hyperparams
    return env


def load_suite(name_or_path: str) -> Suite:
    """A suite by name (``fw_agents/suites/<name>.yml``) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SUITES_DIR / f"{name_or_path}.yml"
        if not path.exists():
            known = sorted(p.stem for p in SUITES_DIR.glob("*.yml"))
            raise UsageError(f"unknown suite {name_or_path!r}; known: {', '.join(known)} (or a path to a .yml file)")
    if not path.exists():
        raise UsageError(f"suite file not found: {path}")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a suite file is a mapping with an 'envs' list")
    unknown = set(data) - SUITE_KEYS
    if unknown:
        raise UsageError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(SUITE_KEYS)}")
    if not isinstance(data.get("envs"), list) or not data["envs"]:
        raise UsageError(f"{path}: 'envs' must be a non-empty list")
    cores = data.get("cores", ["fw", "lstm", "gru"])
    if not isinstance(cores, list) or not cores:
        raise UsageError(f"{path}: 'cores' must be a non-empty list")
    seeds = positive_int(data.get("seeds", 3), f"{path}: seeds")
    return Suite(
        name=str(data.get("name", path.stem)),
        envs=[parse_env(entry, str(path)) for entry in data["envs"]],
        cores=[str(c) for c in cores],
        seeds=list(range(seeds)),
        quick_timesteps=positive_int(data.get("quick_timesteps", 2048), f"{path}: quick_timesteps"),
    )


def check(suite: Suite) -> None:
    """Every env id and core must exist (before anything is run or written); ids are resolved."""
    from envs import resolve_env_id
    from fw_agents.cores import available_cores, core_name

    for core in suite.cores:
        if core not in available_cores():
            raise UsageError(f"unknown core {core!r}; known: {', '.join(available_cores())}")
    suite.cores = [core_name(core) for core in suite.cores]  # run folders and tables: permanent names
    if len(set(suite.cores)) != len(suite.cores):
        raise UsageError(f"a core is listed twice (an alias names another core): {', '.join(suite.cores)}")
    seen = set()
    for env in suite.envs:
        try:
            env.env = resolve_env_id(env.env)
        except ValueError as err:
            raise UsageError(str(err)) from err
        if env.env in seen:
            raise UsageError(f"env {env.env} is listed twice")
        seen.add(env.env)


def run_name(env_id: str, core: str, seed: int) -> str:
    return f"{env_id}_{core}_seed{seed}"


def jobs(suite: Suite, runs_dir: Path, quick: bool = False, threads: int | None = 1,
         hyperparams: dict[str, Any] | None = None) -> list[Job]:  # fmt: skip
    """One :class:`~fw_agents.sweep.Job` per env × core × seed; ``hyperparams`` apply everywhere."""
    out = []
    for env in suite.envs:
        overrides = {**env.hyperparams, **(hyperparams or {})}
        timesteps = suite.quick_timesteps if quick else env.timesteps
        extra: list[str] = []
        if quick:  # two small evaluations, so the pipeline has curves to read
            overrides = {**overrides, "eval_episodes": 4, "n_envs": 4}
            extra = ["--eval-freq", str(max(1, suite.quick_timesteps // 2))]
        elif env.eval_freq:
            extra = ["--eval-freq", str(env.eval_freq)]
        for core in suite.cores:
            for seed in suite.seeds:
                name = run_name(env.env, core, seed)
                out.append(make_job(runs_dir, name, env.env, core, seed, timesteps, threads, overrides, extra))
    return out


def check_budgets(suite: Suite, runs_dir: Path, quick: bool) -> None:
    """Refuse to mix budgets: a run folder made with another number of steps is not this suite's run."""
    from fw_agents.run_folder import CONFIG_FILE, read_config

    for env in suite.envs:
        wanted = suite.quick_timesteps if quick else env.timesteps
        for core in suite.cores:
            for seed in suite.seeds:
                run_dir = runs_dir / run_name(env.env, core, seed)
                if wanted is None or not (run_dir / CONFIG_FILE).exists():
                    continue
                have = read_config(run_dir).get("n_timesteps")
                if have != wanted:
                    raise UsageError(f"{run_dir} was trained for {have} steps, this suite asks for {wanted}: "
                                     "use another --out")  # fmt: skip


# ----------------------------------------------------------------- scoring
def steps_to(steps: np.ndarray, values: np.ndarray, level: float) -> float | None:
    """Env steps of the first evaluation at or above ``level`` (``None``: never reached)."""
    reached = np.flatnonzero(values >= level - 1e-9)  # 0.2 + 0.5 · 0.8 is 0.6000000000000001
    return float(steps[reached[0]]) if reached.size else None


def thousands(steps: float | None) -> str:
    """``"125k"`` (``"—"`` for a threshold not reached)."""
    return "—" if steps is None else f"{steps / 1000:.0f}k"


def mean_std(values: list[float], digits: int = 2) -> str:
    """``"8.20 ± 1.53"``: the mean ± the *sample* standard deviation (n − 1), the one spread the
    leaderboard and every benchmark report (no spread for a single value)."""
    spread = f" ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.{digits}f}{spread}"


@dataclass
class RunScore:
    """One finished (or partly evaluated) run on the suite's score scale."""

    seed: int
    steps: np.ndarray
    scores: np.ndarray
    wall_seconds: float | None

    @property
    def final(self) -> float:
        return float(self.scores[-FINAL_EVALS:].mean())

    @property
    def auc(self) -> float:
        if len(self.steps) < 2:
            return float(self.scores.mean())
        area = np.sum((self.scores[1:] + self.scores[:-1]) / 2 * np.diff(self.steps))
        return float(area / (self.steps[-1] - self.steps[0]))

    def steps_to(self, level: float) -> float | None:
        return steps_to(self.steps, self.scores, level)


def score_run(run_dir: Path, env: SuiteEnv, seed: int) -> RunScore | None:
    """The run's evaluation curve on the suite's score scale; ``None`` if it has no evaluation yet."""
    from fw_agents.run_folder import read_summary

    evaluations = read_evaluations(run_dir, env.score, hint="score it by return in a suite file "
                                   "(score: return, max_return: …)")  # fmt: skip
    if evaluations is None:
        return None
    steps, scores = evaluations
    if env.score == "return":
        scores = scores / env.max_return
    summary = read_summary(run_dir)
    wall = summary.get("wall_seconds") if summary is not None else None
    return RunScore(seed, steps, scores, wall)


@dataclass
class Row:
    """One env × core: every seed's run."""

    env: SuiteEnv
    core: str
    runs: list[RunScore]
    expected_seeds: int

    @property
    def finals(self) -> list[float]:
        return [r.final for r in self.runs]

    @property
    def normalised(self) -> float:
        return statistics.mean(self.env.normalise(f) for f in self.finals)

    @property
    def complete(self) -> bool:
        return len(self.runs) == self.expected_seeds


def collect(suite: Suite, runs_dir: Path) -> list[Row]:
    """A :class:`Row` per env × core with at least one finished run (a run still training has no
    final score yet, so a leaderboard written while a suite runs shows only what has ended)."""
    from fw_agents.run_folder import run_finished

    rows = []
    for env in suite.envs:
        for core in suite.cores:
            folders = {seed: runs_dir / run_name(env.env, core, seed) for seed in suite.seeds}
            runs = [score_run(folder, env, seed) for seed, folder in folders.items() if run_finished(folder)]
            runs = [r for r in runs if r is not None]
            if runs:
                rows.append(Row(env, core, runs, len(suite.seeds)))
    return rows


def overall(rows: list[Row], suite: Suite) -> list[tuple[str, float | None, int]]:
    """Per core, best first: the mean normalised score over the envs every core has complete results
    for (``None`` if there are none), and how many envs that is."""
    complete = {(r.env.env, r.core) for r in rows if r.complete}
    shared = [e.env for e in suite.envs if all((e.env, c) in complete for c in suite.cores)]
    out = []
    for core in suite.cores:
        values = [r.normalised for r in rows if r.core == core and r.env.env in shared]
        out.append((core, statistics.mean(values) if values else None, len(values)))
    return sorted(out, key=lambda item: -math.inf if item[1] is None else -item[1])


def _steps_cells(row: Row) -> list[str]:
    return [", ".join(thousands(r.steps_to(row.env.threshold(f))) for r in row.runs) for f in THRESHOLDS]


def _wall(row: Row) -> str:
    walls = [r.wall_seconds for r in row.runs if r.wall_seconds is not None]
    return f"{statistics.mean(walls):.0f}" if walls else "—"


def leaderboard_markdown(rows: list[Row], suite: Suite) -> str:
    """The overall table (per core) and the per env × core table, as Markdown."""
    lines = ["| rank | core | overall normalised score | envs |", "|---|---|---|---|"]
    for rank, (core, value, n) in enumerate(overall(rows, suite), 1):
        lines.append(f"| {rank} | {core} | {'—' if value is None else f'{value:.3f}'} | {n} |")
    lines += [
        "",
        "| env | core | final (mean ± std) | per seed | normalised | steps to 50 % | to 80 % | to 95 % | AUC | "
        "wall s/run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        seeds = ", ".join(f"{f:.2f}" for f in row.finals)
        if not row.complete:
            seeds += f" ({len(row.runs)}/{row.expected_seeds} seeds)"
        lines.append(
            f"| {row.env.env} | {row.core} | {mean_std(row.finals, 3)} | {seeds} | {row.normalised:.3f} | "
            + " | ".join(_steps_cells(row))
            + f" | {statistics.mean(r.auc for r in row.runs):.3f} | {_wall(row)} |"
        )
    return "\n".join(lines)


CSV_FIELDS = ["env", "core", "seeds", "final_mean", "final_std", "final_per_seed", "normalised", "memoryless",
              "oracle", "steps_to_50", "steps_to_80", "steps_to_95", "auc", "wall_seconds"]  # fmt: skip


def leaderboard_csv(rows: list[Row]) -> str:
    """One line per env × core; per-seed values are joined with ';' (empty: threshold never reached)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        per_threshold = [
            ";".join("" if (s := r.steps_to(row.env.threshold(f))) is None else str(int(s)) for r in row.runs)
            for f in THRESHOLDS
        ]
        walls = [r.wall_seconds for r in row.runs if r.wall_seconds is not None]
        writer.writerow({
            "env": row.env.env, "core": row.core, "seeds": len(row.runs),
            "final_mean": f"{statistics.mean(row.finals):.4f}",
            "final_std": f"{statistics.stdev(row.finals):.4f}" if len(row.finals) > 1 else "",
            "final_per_seed": ";".join(f"{f:.4f}" for f in row.finals),
            "normalised": f"{row.normalised:.4f}", "memoryless": row.env.memoryless, "oracle": row.env.oracle,
            "steps_to_50": per_threshold[0], "steps_to_80": per_threshold[1], "steps_to_95": per_threshold[2],
            "auc": f"{statistics.mean(r.auc for r in row.runs):.4f}",
            "wall_seconds": f"{statistics.mean(walls):.1f}" if walls else "",
        })  # fmt: skip
    return buffer.getvalue()


def plot_grid(rows: list[Row], suite: Suite, out: Path) -> Path:
    """One panel per env: mean and min–max band of the score per core, memoryless and oracle lines."""
    plt = pyplot()
    envs = [e for e in suite.envs if any(r.env.env == e.env for r in rows)]
    cols = min(4, max(1, len(envs)))
    n_rows = math.ceil(len(envs) / cols)
    fig, axes = plt.subplots(n_rows, cols, figsize=(4.2 * cols, 3.2 * n_rows), squeeze=False)
    colours = {core: f"C{i}" for i, core in enumerate(suite.cores)}
    for ax, env in zip(axes.flat, envs, strict=False):
        curves = [Curve(Path(), row.core, r.steps, r.scores) for row in rows if row.env.env == env.env
                  for r in row.runs]  # fmt: skip
        draw_curves(ax, curves, {"memoryless": env.memoryless, "oracle": env.oracle}, colours)
        ax.set_title(env.env, fontsize=9)
        ax.set_xlabel("env steps", fontsize=8)
        ax.set_ylabel("return / max" if env.score == "return" else "success rate", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(envs) :]:
        ax.axis("off")
    fig.suptitle(f"suite {suite.name}: periodic evaluations, mean and min–max over seeds", fontsize=10)
    fig.tight_layout()
    from fw_agents.atomic import atomic_path

    with atomic_path(Path(out)) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(out)


def write_leaderboard(rows: list[Row], suite: Suite, out_dir: Path) -> list[Path]:
    """``leaderboard.md``, ``leaderboard.csv`` and ``curves.png`` in ``out_dir`` (each written atomically)."""
    from fw_agents.run_folder import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Leaderboard: suite {suite.name}\n\ncores {', '.join(suite.cores)}; seeds {suite.seeds}; "
        f"final = mean of the last {FINAL_EVALS} evaluations; normalised = (final − memoryless) / "
        f"(oracle − memoryless); steps to x % = first evaluation at memoryless + x % of (oracle − memoryless), "
        f"per seed.\n\n"
    )
    paths = [out_dir / "leaderboard.md", out_dir / "leaderboard.csv", out_dir / "curves.png"]
    atomic_write_text(paths[0], header + leaderboard_markdown(rows, suite) + "\n")
    atomic_write_text(paths[1], leaderboard_csv(rows))
    plot_grid(rows, suite, paths[2])
    return paths
