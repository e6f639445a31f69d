"""cnbench vs Hugging Face Trainer: same model, data, epochs, batch, lr and seed, one command.

Both fine-tune a randomly initialised ``scratch-small`` BERT (4 layers x 256, real
bert-base-chinese vocabulary) on the real ChnSentiCorp train set, pick the best epoch on dev and
score test with it. Trainer gets its best options for this job: bf16 where the CPU/GPU has it,
fused AdamW, dynamic padding, best-model-at-end selection by dev accuracy (which needs a
checkpoint per epoch: that is how Trainer selects), and each of its two sampling strategies:
``group_by_length`` (little padding, but its batches run from longest to shortest inside each
mega-batch, unshuffled) and ``random``. cnbench's feature cache is turned off, so all tokenise
from scratch. Wall time is measured around each whole pipeline (tokenise, build, train,
evaluate) in this one process; the ratios are the result.

    python benchmarks/bench_vs_trainer.py [--epochs 3] [--model scratch-small] [--out benchmarks/results/vs_trainer.md]
    python benchmarks/bench_vs_trainer.py --small   # a check: scratch-tiny, one epoch, 64 examples per split

``--small`` appends to a file in a temporary folder unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ["CNBENCH_CACHE_DIR"] = ""
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cnbench import paths  # noqa: E402
from cnbench.data.load import load_task_data  # noqa: E402
from cnbench.models.presets import PRESETS  # noqa: E402
from cnbench.registry import get_task  # noqa: E402
from cnbench.runinfo import environment_info  # noqa: E402
from cnbench.train import RunConfig, run  # noqa: E402

SEED, BATCH, MAX_LEN = 42, 32, 256
SMALL_LIMIT = 64
RESULTS = Path(__file__).parent / "results" / "vs_trainer.md"


def run_cnbench(model: str, epochs: int, lr: float, output: Path, limit: int | None = None) -> dict:
    start = time.perf_counter()
    result = run(
        RunConfig(
            task="chnsenticorp",
            model=model,
            seed=SEED,
            epochs=epochs,
            lr=lr,
            batch_size=BATCH,
            max_len=MAX_LEN,
            limit=limit,
            output_dir=str(output),
        ),
        log=lambda line: None,
    )
    return {
        "seconds": time.perf_counter() - start,
        "dev": result["metrics"]["dev"]["accuracy"],
        "test": result["metrics"]["test"]["accuracy"],
        "best_epoch": result["best_epoch"],
    }


def run_trainer(model: str, epochs: int, lr: float, output: Path, sampling: str, limit: int | None = None) -> dict:
    from datasets import Dataset
    from transformers import (
        AutoConfig,
        AutoTokenizer,
        BertForSequenceClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    start = time.perf_counter()
    task = get_task("chnsenticorp")
    data = load_task_data(task, paths.data_dir())
    tokenizer = AutoTokenizer.from_pretrained(paths.tokenizer_dir())

    def dataset(examples):
        encoded = tokenizer([ex.text_a for ex in examples], truncation=True, max_length=MAX_LEN)
        encoded["labels"] = [task.labels.index(ex.label) for ex in examples]
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]  # for length-grouped sampling
        return Dataset.from_dict(dict(encoded))

    splits = {name: dataset(examples[:limit]) for name, examples in data.splits.items()}
    set_seed(SEED)
    config = AutoConfig.from_pretrained(paths.tokenizer_dir(), num_labels=2, **PRESETS[model].scratch_config)
    network = BertForSequenceClassification(config)
    bf16 = torch.cpu._is_avx512_bf16_supported() or torch.cuda.is_available()
    args = TrainingArguments(
        output_dir=str(output),
        num_train_epochs=epochs,
        learning_rate=lr,
        per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=BATCH,
        warmup_steps=0.1,
        weight_decay=0.01,
        max_grad_norm=1.0,
        seed=SEED,
        train_sampling_strategy=sampling,
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        optim="adamw_torch_fused",
        eval_strategy="epoch",
        save_strategy="epoch",
        save_only_model=True,
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model="accuracy",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )

    def accuracy(prediction):
        return {"accuracy": float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())}

    trainer = Trainer(
        model=network,
        args=args,
        train_dataset=splits["train"],
        eval_dataset=splits["dev"],
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=accuracy,
    )
    trainer.train()
    dev = trainer.evaluate(splits["dev"])["eval_accuracy"]
    test = trainer.evaluate(splits["test"], metric_key_prefix="test")["test_accuracy"]
    return {"seconds": time.perf_counter() - start, "dev": dev, "test": test, "best_epoch": None}


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", choices=["scratch-tiny", "scratch-small"], help="default scratch-small; --small: scratch-tiny"
    )
    parser.add_argument("--epochs", type=int, help="default 3; --small: 1")
    add_small_and_out(
        parser, RESULTS, appends=True, small_help=f"scratch-tiny, one epoch, {SMALL_LIMIT} examples per split"
    )
    args = parser.parse_args()
    if args.model is None:
        args.model = "scratch-tiny" if args.small else "scratch-small"
    if args.epochs is None:
        args.epochs = 1 if args.small else 3
    limit = SMALL_LIMIT if args.small else None
    args.out = output_path(args, RESULTS)
    lr = PRESETS[args.model].overrides["lr"]
    # read the commit before the runs, so later commits in the checkout cannot be misattributed
    env = environment_info(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    runs = {}
    with tempfile.TemporaryDirectory() as scratch:
        runs["cnbench"] = run_cnbench(args.model, args.epochs, lr, Path(scratch) / "cnbench", limit)
        for sampling in ("group_by_length", "random"):
            runs[f"HF Trainer ({sampling})"] = run_trainer(
                args.model, args.epochs, lr, Path(scratch) / sampling, sampling, limit
            )
    ours = runs["cnbench"]
    for name, outcome in runs.items():
        print(
            f"{name}: {outcome['seconds']:.1f} s, dev {outcome['dev']:.4f}, test {outcome['test']:.4f}, "
            f"{outcome['seconds'] / ours['seconds']:.2f}x cnbench's time",
            flush=True,
        )

    hardware = env["hardware"]
    lines = [
        f"## {args.model}, ChnSentiCorp{f', first {limit} examples per split' if limit else ''}, "
        f"{args.epochs} epochs, batch {BATCH}, max_len {MAX_LEN}, lr {lr:g}, seed {SEED}",
        "",
        f"Machine: {hardware.get('gpu') or hardware['cpu']}, {hardware['cpu_count']} cores, torch threads "
        f"{hardware['torch_threads']}; torch {env['packages']['torch']}, "
        f"transformers {env['packages']['transformers']}; commit {env['git_commit']}.",
        "",
        "| harness | wall s | dev acc | test acc | time / cnbench time |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {name} | {o['seconds']:.1f} | {o['dev']:.4f} | {o['test']:.4f} | "
            f"{o['seconds'] / ours['seconds']:.2f}x |"
            for name, o in runs.items()
        ),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"appended to {args.out}")


if __name__ == "__main__":
    main()
