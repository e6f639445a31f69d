"""The ``cnbench`` command: ``list``, ``run``, ``sweep``, ``leaderboard``, ``new-task``, ``check-task``.

Heavy libraries (torch, transformers) are imported inside the commands that need them, so
``cnbench --help`` and ``cnbench list`` start fast. A ``CnbenchError`` is printed as one line
(``error: ...``) with exit status 2, never as a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cnbench.errors import CnbenchError


def _seeds(value: str | None, seed: int) -> list[int]:
    """``--seeds 5`` -> seeds 1..5; ``--seeds 3,7,11`` -> those; absent -> ``[--seed]``."""
    if value is None:
        return [seed]
    try:
        if "," in value:
            seeds = [int(item) for item in value.split(",") if item.strip()]
        else:
            seeds = list(range(1, int(value) + 1))
    except ValueError:
        raise CnbenchError(f"--seeds {value!r}: expected a count (5) or a comma-separated list (1,2,3)") from None
    if not seeds:
        raise CnbenchError(f"--seeds {value!r}: expected at least one seed")
    return seeds


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cnbench")
def cli():
    """Fine-tune Chinese BERT-family models on standard tasks and score them comparably."""


@cli.command("list")
def list_command():
    """Tasks, model aliases and heads."""
    from cnbench.display import print_table
    from cnbench.heads import HEADS
    from cnbench.models.presets import PRESETS, parameter_count
    from cnbench.registry import all_tasks

    tasks = [
        (
            task.name,
            task.kind,
            str(len(task.labels)),
            task.main_metric,
            f"{task.defaults.max_len}, {task.defaults.epochs}, {task.defaults.lr:g}",
            task.hub.path if task.hub else "-",
        )
        for task in all_tasks().values()
    ]
    print_table(
        "tasks",
        ("name", "kind", "labels", "main metric", "defaults (max_len, epochs, lr)", "Hub dataset"),
        tasks,
        names=("name", "Hub dataset"),
    )
    models = [
        (alias, preset.description, parameter_count(preset), preset.hub_id or "random init (offline)")
        for alias, preset in PRESETS.items()
    ]
    print_table(
        "models (or any Hub id / local checkpoint folder)",
        ("alias", "what", "parameters", "loads"),
        models,
        names=("alias", "loads"),
    )
    heads = [(name, ", ".join(sorted(kinds))) for name, kinds in sorted(HEADS.items())]
    print_table("heads", ("name", "task kinds"), heads, names=("name",))


def _csv(kind: click.ParamType):
    """Parse ``a,b,c`` into a tuple of values of the click type ``kind``; its error names the bad item."""

    def convert(ctx, param, value):
        if value is None:
            return None
        return tuple(kind.convert(item.strip(), param, ctx) for item in value.split(",") if item.strip())

    return convert


# Options shared by `run` and `sweep` (hyper-parameters that sweep does not grid over, protocol, I/O).
RUN_OPTIONS = [
    click.option("--head-lr", type=float, help="Head learning rate (default: per head)."),
    click.option("--crf-lr", type=float, help="CRF transition learning rate (default 1e-2)."),
    click.option("--llrd", type=float, help="Layer-wise learning-rate decay, e.g. 0.95."),
    click.option("--max-len", type=int),
    click.option("--warmup-ratio", type=float),
    click.option("--weight-decay", type=float),
    click.option("--grad-clip", type=float),
    click.option("--dropout", type=float),
    click.option("--patience", type=int, help="Stop after this many epochs without a dev improvement."),
    click.option(
        "--features",
        type=click.Choice(["last", "pooler", "scalar-mix"]),
        help="What the head reads: last layer, pooler, or a learned mix of all layers [default: per head].",
    ),
    click.option(
        "--adapter-size", type=click.IntRange(min=1), help="--tuning adapter: bottleneck width [default: 64]."
    ),
    click.option("--lora-rank", type=click.IntRange(min=1), help="--tuning lora: rank r [default: 8]."),
    click.option(
        "--lora-alpha", type=float, help="--tuning lora: scaling alpha (updates scaled by alpha/r) [default: 16]."
    ),
    click.option("--lora-targets", help="--tuning lora: comma-separated module names [default: query,value]."),
    click.option("--word-boundaries", is_flag=True, help="char-embed: add jieba word-boundary features."),
    click.option("--train-on-dev", is_flag=True, help="Smoke run for tasks without local train data (marked)."),
    click.option("--limit", type=int, help="Use only the first N examples of each split (smoke run, marked)."),
    click.option("--data-dir", type=click.Path(file_okay=False), help="Default: $CNBENCH_DATA_DIR or ../shared/data."),
    click.option(
        "--source",
        type=click.Choice(["auto", "local", "hub"]),
        default="auto",
        show_default=True,
        help="Data source: auto = per split, the local file if it exists, else the task's Hub dataset.",
    ),
    click.option(
        "--tokenizer",
        help="Model alias, tokenizer folder or Hub id (id@commit pins it) to use instead of the checkpoint's own.",
    ),
    click.option(
        "--output", "output_dir", type=click.Path(file_okay=False), help="Results folder (default leaderboard/results)."
    ),
    click.option(
        "--precision",
        type=click.Choice(["auto", "bf16", "fp32"]),
        default="auto",
        show_default=True,
        help="auto: bf16 where the hardware runs it natively (AVX512-BF16/AMX CPU, GPU of compute "
        "capability 8.0+), else fp32; bf16 elsewhere is refused.",
    ),
    click.option("--compile", is_flag=True, help="torch.compile the model (opt-in)."),
    click.option(
        "--deterministic",
        is_flag=True,
        help="Deterministic algorithms: repeatable GPU runs and exact GPU --resume (can be slower).",
    ),
    click.option(
        "--resume",
        is_flag=True,
        help="Continue an interrupted run from its last end-of-epoch checkpoint (without it, a checkpoint is ignored).",
    ),
    click.option(
        "--no-checkpoint",
        "save_checkpoints",
        is_flag=True,
        flag_value=False,
        default=True,
        help="Write no end-of-epoch checkpoints (saves disk and time; the run cannot be resumed).",
    ),
    click.option(
        "--abandon-below",
        type=float,
        metavar="SCORE",
        help="Fail a seed whose best dev main metric after --abandon-after epochs is below SCORE.",
    ),
    click.option(
        "--abandon-after",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        metavar="K",
        help="The epoch at which --abandon-below is checked.",
    ),
]


def run_options(command):
    for option in reversed(RUN_OPTIONS):
        command = option(command)
    return command


def _check_locations(options: dict) -> None:
    """A data folder the user named must exist: said before torch is even imported."""
    from cnbench import paths

    paths.data_dir(options.get("data_dir"))


# How `run` and `sweep` show progress (cnbench.progress); none of these changes what a run computes.
DISPLAY_OPTIONS = [
    click.option("--quiet", "-q", is_flag=True, help="Print only the final summary."),
    click.option("--verbose", "-v", is_flag=True, help="Also print one line per training step."),
    click.option(
        "--tensorboard",
        type=click.Path(file_okay=False),
        metavar="DIR",
        help="Also write each run's training curve to DIR/<result name> for TensorBoard.",
    ),
]


def display_options(command):
    for option in reversed(DISPLAY_OPTIONS):
        command = option(command)
    return command


def _display(quiet: bool, verbose: bool, tensorboard: str | None):
    """Bars on a terminal, lines elsewhere, nothing per run with --quiet."""
    from cnbench.progress import Display

    if quiet and verbose:
        raise CnbenchError("--quiet and --verbose: choose one")
    return Display("quiet" if quiet else None, verbose=verbose, tensorboard=tensorboard)


@cli.command("run")
@click.option("--task", required=True, help="Task name (see `cnbench list`).")
@click.option(
    "--model",
    default="scratch-tiny",
    show_default=True,
    help="Alias, Hub id (id@commit pins it) or local checkpoint folder.",
)
@click.option("--head", default="linear", show_default=True, help="linear | crf | bilstm | bilstm-crf")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--seeds", default=None, help="Several seeds: a count (5 -> 1..5) or a list (1,2,3).")
@click.option("--epochs", type=int)
@click.option("--lr", type=float, help="Encoder learning rate.")
@click.option("--batch-size", type=int)
@click.option("--tuning", help="full | frozen | top-K (e.g. top-2) | adapter | lora [default: full].")
@click.option(
    "--submission",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Also predict the task's unlabelled test split (CLUE's hidden test) with the best-dev weights "
    "and write its submission file into DIR/<model>--<head>/seed<N>/ (e.g. afqmc_predict.json).",
)
@run_options
@display_options
def run_command(seeds, quiet, verbose, tensorboard, **options):
    """Fine-tune, pick the best epoch on dev, score test with it, write one result file per seed."""
    _check_locations(options)
    from cnbench.results import crashed
    from cnbench.train import RunConfig, check_settings, run
    from cnbench.tuning import check_options

    check_options([options["tuning"]], options)
    configs = [RunConfig(seed=seed, **options) for seed in _seeds(seeds, options.pop("seed"))]
    for config in configs:  # a bad last seed must not wait for the first ones to train
        check_settings(config)
    results = []
    with _display(quiet, verbose, tensorboard) as display:
        for config in configs:
            results.append(run(config, log=display.log, display=display))
    _print_summary(results)
    if any(map(crashed, results)):  # written as failed seeds, but a crash is not a clean exit
        sys.exit(1)


@cli.command("sweep")
@click.option("--models", required=True, callback=_csv(click.STRING), help="Comma-separated aliases / ids.")
@click.option("--tasks", required=True, callback=_csv(click.STRING), help="Comma-separated task names.")
@click.option("--heads", default="linear", show_default=True, callback=_csv(click.STRING))
@click.option("--seeds", default="3", show_default=True, help="A count (3 -> 1..3) or a list (1,2,3).")
@click.option("--lr", "lrs", callback=_csv(click.FLOAT), help="Grid, default 2e-5,3e-5,5e-5.")
@click.option("--batch-size", "batch_sizes", callback=_csv(click.INT), help="Grid, default 16,32.")
@click.option("--epochs", "epoch_counts", callback=_csv(click.INT), help="Grid, default 2,3,4.")
@click.option("--tunings", callback=_csv(click.STRING), help="Grid of --tuning strategies, default full.")
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: one run after another here; ray: each run a Ray task on a cluster.",
)
@click.option("--address", help="ray: the cluster (auto: the one `ray start` began here; local: a private one).")
@click.option("--cpus-per-run", type=float, help="ray: CPUs reserved per run, also its torch threads [default: 1].")
@click.option("--gpus-per-run", type=float, help="ray: GPUs per run, 0 to 1 (fractions share a GPU) [default: 0].")
@click.option(
    "--max-retries", type=click.IntRange(min=0), help="ray: times a run whose worker died is retried [default: 2]."
)
@run_options
@display_options
def sweep_command(
    models,
    tasks,
    heads,
    seeds,
    lrs,
    batch_sizes,
    epoch_counts,
    tunings,
    executor,
    address,
    cpus_per_run,
    gpus_per_run,
    max_retries,
    quiet,
    verbose,
    tensorboard,
    **options,
):
    """Grid over lr x batch x epochs x tuning for models x tasks x heads x seeds; skips finished runs."""
    _check_locations(options)
    from rich.console import Console

    from cnbench.executors import LocalExecutor, RayExecutor
    from cnbench.progress import sweep_table
    from cnbench.sweep import DEFAULT_GRID, expand, run_sweep
    from cnbench.train import RunConfig
    from cnbench.tuning import check_options

    ray_options = {
        "address": address,
        "cpus_per_run": cpus_per_run,
        "gpus_per_run": gpus_per_run,
        "max_retries": max_retries,
    }
    ray_options = {name: value for name, value in ray_options.items() if value is not None}
    if executor == "local" and ray_options:
        flags = ", ".join("--" + name.replace("_", "-") for name in ray_options)
        raise CnbenchError(f"{flags}: only with --executor ray")
    if executor == "ray" and tensorboard:
        raise CnbenchError("--tensorboard: only with --executor local (Ray runs write no files where they run)")
    grid = {
        "lr": lrs or DEFAULT_GRID["lr"],
        "batch_size": batch_sizes or DEFAULT_GRID["batch_size"],
        "epochs": epoch_counts or DEFAULT_GRID["epochs"],
        "tuning": tunings or DEFAULT_GRID["tuning"],
    }
    check_options(grid["tuning"], options)
    base = RunConfig(task=tasks[0], model=models[0], **options)
    configs = expand(models, tasks, heads, _seeds(seeds, 42), grid, base)
    with _display(quiet, verbose, tensorboard) as display:
        outcome = run_sweep(
            configs,
            log=display.log,
            display=display,
            executor=RayExecutor(**ray_options) if executor == "ray" else LocalExecutor(),
        )
    if outcome.ran:  # logs and pipes are not 80 columns wide: the table needs no squeezing there
        Console(width=None if sys.stdout.isatty() else 160).print(sweep_table(outcome.ran))
    crashes = f" ({len(outcome.crashed)} crashed, written as failed)" if outcome.crashed else ""
    click.echo(
        f"sweep: {len(outcome.ran)} ran{crashes}, {len(outcome.skipped)} already done, "
        f"{len(outcome.errors)} could not start or crashed before training"
    )
    for line in outcome.errors + outcome.crashed:
        click.echo(f"  {line}", err=True)
    if outcome.errors or outcome.crashed:
        sys.exit(1)


@cli.command("leaderboard")
@click.option("--results", "results_dir", type=click.Path(file_okay=False), help="Default leaderboard/results.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Default leaderboard/README.md.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Where the gold test labels for significance tests are read. Default: $CNBENCH_DATA_DIR or ../shared/data.",
)
def leaderboard_command(results_dir, out_path, data_dir):
    """Regenerate leaderboard/README.md from the result files."""
    from cnbench.leaderboard import gold_test_labels, render_leaderboard
    from cnbench.leaderboard.select import mapping
    from cnbench.paths import REPO_ROOT
    from cnbench.paths import results_dir as default_results
    from cnbench.results import load_results

    results_dir = results_dir or default_results()
    out_path = Path(out_path or REPO_ROOT / "leaderboard" / "README.md")
    # Gold labels for the tasks that results name; a malformed result is the page's to list under Problems.
    readable = [r for r in load_results(results_dir)[0] if isinstance(mapping(r.get("task")).get("name"), str)]
    tasks = sorted({r["task"]["name"] for r in readable})
    # tasks with results scored on Hub test data: their Hub gold is loaded too
    hub_tasks = sorted(
        {
            r["task"]["name"]
            for r in readable
            if mapping(mapping(mapping(r.get("data")).get("files")).get("test")).get("hub")
        }
    )
    render_leaderboard(
        results_dir=results_dir,
        reported_path=REPO_ROOT / "leaderboard" / "reported.json",
        out_path=out_path,
        plots_dir=out_path.parent / "plots",
        gold=gold_test_labels(
            tasks, data_dir, warn=lambda line: click.echo(f"warning: {line}", err=True), hub_tasks=hub_tasks
        ),
    )
    click.echo(f"wrote {out_path}")


@cli.command("new-task")
@click.argument("name")
@click.option(
    "--kind",
    required=True,
    help="single (text -> label) | pair (two texts -> label) | tagging (a BIO tag per character) | "
    "span (a question answered by a span of its context).",
)
@click.option(
    "--format",
    "format_",
    help="How the data files are written: tsv | conll | jsonl | spans | squad "
    "[default: tsv; conll for tagging; squad for span].",
)
def new_task_command(name, kind, format_):
    """Write a task file to fill in (into $CNBENCH_TASKS_PATH's first folder, else tasks/)."""
    from cnbench.authoring import write_task_file
    from cnbench.registry import all_tasks, new_task_folder

    path = write_task_file(name, kind, format_, new_task_folder(), all_tasks())
    all_tasks.cache_clear()
    click.echo(
        f"wrote {path}: fill in the TODOs, put the data files in <data dir>/{name}/, "
        f"then run `cnbench check-task {name}`"
    )


@cli.command("check-task")
@click.argument("name")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Default: $CNBENCH_DATA_DIR or ../shared/data.")
def check_task_command(name, data_dir):
    """Read a task's local files as a run would; print counts, checksums, lengths and labels."""
    from cnbench import paths
    from cnbench.authoring import check_task
    from cnbench.registry import get_task

    problems = check_task(get_task(name), paths.data_dir(data_dir))
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{name}: every split read, no problems")


def _print_summary(results: list[dict]) -> None:
    from cnbench.display import print_table

    metric = results[0]["task"]["main_metric"]
    rows = []
    for result in results:
        dev, test = result["metrics"]["dev"].get(metric), result["metrics"]["test"].get(metric)
        rows.append(
            (
                result["model"]["alias"],
                result["head"],
                str(result["seed"]),
                result["status"],
                str(result["best_epoch"]),
                "-" if dev is None else f"{dev:.4f}",
                "-" if test is None else f"{test:.4f}",
                f"{result['timing']['train_seconds']:.0f}",
            )
        )
    print_table(
        f"{results[0]['task']['name']}: {metric}",
        ("model", "head", "seed", "status", "best epoch", "dev", "test", "train s"),
        rows,
        names=("model",),
    )
    for result in results:
        click.echo(f"result: {result['_path']}")
    for result in results:
        if result["status"] != "completed":
            click.echo(f"seed {result['seed']} failed: {result['failure']}", err=True)
    _print_spread([r for r in results if r["status"] == "completed"], metric)
    if any(r["protocol"]["train_on_dev"] or r["protocol"]["limit"] for r in results):
        click.secho("smoke run (trained on dev or limited data): not a comparable score", fg="yellow")


def _print_spread(completed: list[dict], metric: str) -> None:
    """Mean ± std of test over the seeds, with the statistics the leaderboard shows. Seeds the
    leaderboard would put in different cells (``--resume`` keeps a seed written when an alias that
    follows ``main`` resolved to an earlier commit) are never pooled: each cell gets its own line."""
    from cnbench.leaderboard.select import column_of, row_of
    from cnbench.stats import summarize

    cells: dict[tuple, list[dict]] = {}
    for result in completed:
        cells.setdefault((column_of(result), row_of(result)), []).append(result)
    if len(cells) > 1:
        click.echo(
            f"not averaged together: these seeds belong to {len(cells)} leaderboard cells (other model, "
            "data or tokenisation)",
            err=True,
        )
    for (column, row), runs in cells.items():
        if len(runs) < 2:
            continue
        spread = summarize(run["metrics"]["test"][metric] for run in runs)
        which = (
            f" (model identity {row.model_identity}, data {column.data_identity}, tokenizer {row.tokenizer}; "
            f"seeds {', '.join(str(run['seed']) for run in runs)})"
        )
        click.echo(
            f"test {metric} over {spread['n']} seeds{which if len(cells) > 1 else ''}: "
            f"{spread['mean']:.4f} ± {spread['std']:.4f} (max {spread['max']:.4f})"
        )


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="cnbench", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except CnbenchError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
