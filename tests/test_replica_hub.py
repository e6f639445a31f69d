"""The real path, offline: ``cnbench run --model <alias> --task <task>`` against a replica Hub.

``replica_hub.py`` lays out, in this test session's private Hugging Face cache, tiny copies of
every repository cnbench names, shaped as their public cards show them. ``HF_HUB_OFFLINE=1`` (set
in conftest) makes the libraries read that cache: everything from the snapshot lookup on is the
code a connected user runs. Nothing in cnbench's loading code is mocked.
"""

from __future__ import annotations

import dataclasses
import gzip
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import only_result
from replica_hub import COMMITS, ReplicaHub

ALIASES = ("bert", "bert-wwm-ext", "roberta-wwm-ext", "macbert", "nezha")
CLUE_TASKS = ("afqmc", "tnews", "iflytek", "cmnli", "ocnli", "cluewsc2020", "csl")  # clue/clue configurations
TASKS = ("chnsenticorp", "lcqmc", "xnli_zh", "peoples_daily_ner", "msra_ner", "cmrc2018", "drcd", *CLUE_TASKS)
TINY_RUN = ("--limit", "12", "--epochs", "1", "--max-len", "32", "--batch-size", "4", "--no-checkpoint")


@pytest.fixture(scope="session")
def peoples_daily_downloads(data_dir):
    """The original People's Daily dev/test files where cnbench keeps verified downloads: the real
    files (the bundle's copies, uncompressed), checked against the task's declared checksums."""
    from cnbench.data.download import download_path
    from cnbench.registry import get_task

    source = get_task("peoples_daily_ner").download
    for split, name in (("dev", "dev.txt.gz"), ("test", "test.txt.gz")):
        target = download_path(source.urls[split], source.checksums[split], "peoples_daily_ner")
        target.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(data_dir / "peoples_daily_ner" / name, "rb") as packed:
            target.write_bytes(packed.read())


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("alias", ALIASES)
def test_every_alias_runs_every_task_from_the_hub(cnbench, tmp_path, replica, peoples_daily_downloads, alias, task):
    from cnbench.models.presets import PRESETS

    # People's Daily's train file is known only by its git blob id, so no replica can match it:
    # this run trains on dev; dev and test are the real files, verified by their sha256.
    smoke = ("--train-on-dev",) if task == "peoples_daily_ner" else ()
    room = ("--max-len", "96") if task in ("cmrc2018", "drcd") else ()  # a window holds a 64-piece question
    run = cnbench(
        "run", "--model", alias, "--task", task, "--source", "hub", *TINY_RUN, *smoke, *room, "--output", tmp_path
    )
    assert run.code == 0, run.err
    result = only_result(tmp_path)
    preset = PRESETS[alias]

    assert result["model"]["id"] == preset.hub_id and result["model"]["source"] == "hub"
    commit = COMMITS[preset.hub_id]
    assert result["model"]["revision"] == (commit or _main_commit("model", preset.hub_id))
    assert result["model"]["loading"]["missing_keys"] == []
    assert result["tokenizer"] == {
        "source": preset.hub_id,
        "class": "BertTokenizer",
        "lowercase": True,
        "normalization": "lowercase",
        "revision": result["model"]["revision"],
    }
    assert result["model"]["loading"]["pooler"] == "pretrained" and "WARNING" not in run.out
    assert "embedding_size" not in result["model"]["config"]  # NEZHA's leftover 128 is not its architecture

    files = result["data"]["files"]
    assert set(result["data"]["gold_sha256"]) == {"train", "dev", "test"}
    if task == "peoples_daily_ner":
        assert result["data"]["source"] == "download" and files["test"]["checksum"].startswith("sha256:")
    else:
        hub_id = {
            "chnsenticorp": "lansinuote/ChnSentiCorp",
            "lcqmc": "C-MTEB/LCQMC",
            "xnli_zh": "facebook/xnli",
            "msra_ner": "levow/msra_ner",
            "cmrc2018": "hfl/cmrc2018",
            "drcd": "clue/clue",
            **dict.fromkeys(CLUE_TASKS, "clue/clue"),
        }[task]
        assert result["data"]["source"] == "hub" and files["test"]["hub"] == hub_id
        assert files["test"]["revision"] == _snapshot_commit("dataset", hub_id, files["test"]["requested_revision"])
        assert result["data"]["label"].startswith(f"hub {hub_id}@")
    if task == "msra_ner":  # the scripts' empty trailing rows are dropped, counted; BIO repaired as locally
        assert files["train"]["empty_rows_dropped"] == 1 and files["train"]["bio_repairs"] == 1
        assert "whole sentences" in files["test"]["cut"]
    if task in CLUE_TASKS:  # CLUE's hidden test labels: the official dev (validation) is what is scored
        assert files["test"]["split"] == "validation" and result["protocol"]["dev_split"].startswith("every ")
        assert files["test"].get("no_label_dropped", 0) == 0  # the Hub's loader already dropped "-" rows
    if task == "cmrc2018":  # the Hub copy's stripped answers are found again and counted, as locally
        assert files["test"]["answer_repairs"] > 0 and set(result["metrics"]["test"]) >= {"f1", "em"}
        assert len(result["predictions"]["test"]) == result["data"]["counts"]["test"]


def _main_commit(repo_type: str, repo_id: str) -> str:
    return _snapshot_commit(repo_type, repo_id, None)


def _snapshot_commit(repo_type: str, repo_id: str, revision: str | None) -> str:
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"{repo_type}s--{repo_id.replace('/', '--')}"
    revision = revision or "main"
    ref = folder / "refs" / revision
    return ref.read_text() if ref.exists() else revision


@pytest.mark.slow
def test_the_command_a_user_types(replica, tmp_path):
    """The installed ``cnbench`` script in a fresh process, with only the Hub cache to go on."""
    env = {**os.environ, "CNBENCH_DATA_DIR": str(tmp_path / "no-local-data")}
    (tmp_path / "no-local-data").mkdir()
    script = Path(sys.executable).with_name("cnbench")
    run = subprocess.run(
        [str(script), "run", "--model", "macbert", "--task", "lcqmc", *TINY_RUN, "--output", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "data: hub C-MTEB/LCQMC@17f9b09" in run.stdout
    result = only_result(tmp_path / "out")
    assert result["model"]["revision"] == COMMITS["hfl/chinese-macbert-base"]
    assert result["data"]["files"]["train"]["revision"] == COMMITS["C-MTEB/LCQMC"]


def test_a_missing_local_split_comes_from_the_hub_and_each_split_says_where(cnbench, tmp_path, replica):
    run = cnbench("run", "--model", "scratch-tiny", "--task", "lcqmc", *TINY_RUN, "--output", tmp_path)
    assert run.code == 0, run.err
    result = only_result(tmp_path)
    files = result["data"]["files"]
    assert result["data"]["source"] == "mixed"
    assert files["train"]["source"] == "hub" and files["dev"]["source"] == files["test"]["source"] == "local"
    assert "data: train: hub C-MTEB/LCQMC@17f9b09, dev: local, test: local" in run.out  # as the README shows

    only_local = cnbench(
        "run",
        "--model",
        "scratch-tiny",
        "--task",
        "lcqmc",
        "--source",
        "local",
        *TINY_RUN,
        "--output",
        tmp_path / "local",
    )
    assert only_local.code == 2 and "lcqmc train:" in only_local.err and "--train-on-dev" in only_local.err
    assert not (tmp_path / "local").exists() or not list((tmp_path / "local").rglob("*.json"))


def test_lcqmc_reads_the_same_whether_score_is_int_or_float(replica, data_dir):
    from cnbench.data.load import load_task_data
    from cnbench.registry import get_task

    float_commit = "f" * 40
    replica.lcqmc("float64", commit=float_commit)
    task = get_task("lcqmc")
    as_float = dataclasses.replace(task, hub=dataclasses.replace(task.hub, revision=float_commit))
    ints, floats = load_task_data(task, None), load_task_data(as_float, None)
    assert [ex.label for ex in floats.splits["test"]] == [ex.label for ex in ints.splits["test"]]
    assert set(ex.label for ex in floats.splits["test"]) == {"0", "1"}
    assert ints.identity() != floats.identity()  # another revision is other data


@pytest.mark.slow
def test_the_two_msra_cuts_are_different_data(replica, data_dir):
    from cnbench.data.load import load_task_data
    from cnbench.registry import get_task

    task = get_task("msra_ner")
    local, hub = load_task_data(task, data_dir, limit=5), load_task_data(task, data_dir, limit=5, source="hub")
    assert local.identity() != hub.identity()
    assert "100 characters" in local.provenance["test"]["cut"] and "whole sentences" in hub.provenance["test"]["cut"]


def test_classlabel_names_that_differ_from_the_declaration_stop_the_load():
    from datasets import ClassLabel, Dataset, Features, Value

    from cnbench.errors import DataError
    from cnbench.registry import get_task

    features = Features(
        {
            "premise": Value("string"),
            "hypothesis": Value("string"),
            "label": ClassLabel(names=["contradiction", "neutral", "entailment"]),
        }
    )
    rows = Dataset.from_list([{"premise": "他在跑步", "hypothesis": "他在运动", "label": 2}], features=features)
    with pytest.raises(DataError, match="ClassLabel names"):
        task = get_task("xnli_zh")
        task.kind_rules.from_hub(task, rows, "xnli[test]")


# -- weights and tokenizers -----------------------------------------------------------------------


def _bert_folder(replica: ReplicaHub, folder: Path, state: dict | None, **config) -> Path:
    """A checkpoint folder holding ``state`` as ``pytorch_model.bin`` (or, with ``state=None``, a
    fresh ``BertModel`` saved by ``save_pretrained``) and the BERT vocabulary."""
    from replica_hub import BERT_BASE_CHINESE_CONFIG, TINY
    from transformers import BertConfig, BertModel

    folder.mkdir()
    bert_config = BertConfig(**{**BERT_BASE_CHINESE_CONFIG, **TINY, **config})
    if state is None:
        BertModel(bert_config).save_pretrained(folder)
    else:
        bert_config.save_pretrained(folder)
        (folder / "pytorch_model.bin").write_bytes(replica._bin(state))
    shutil.copy(replica.tokenizer_dir / "vocab.txt", folder / "vocab.txt")
    return folder


def test_a_checkpoint_without_pooler_runs_and_says_so(cnbench, tmp_path, replica):
    folder = _bert_folder(replica, tmp_path / "mlm", replica.bert_weights(pooler=False))
    run = cnbench("run", "--model", folder, "--task", "chnsenticorp", *TINY_RUN, "--output", tmp_path / "out")
    assert run.code == 0, run.err
    assert "WARNING" in run.out and "pooler" in run.out
    assert only_result(tmp_path / "out")["model"]["loading"]["pooler"] == "initialised randomly"


@pytest.mark.parametrize(
    "damage, message",
    [
        ("renamed", "encoder weights missing"),
        ("extra layer", "encoder weights the model does not have"),
    ],
)
def test_a_checkpoint_that_does_not_match_its_encoder_stops(cnbench, tmp_path, replica, damage, message):
    state = replica.bert_weights()
    if damage == "renamed":
        state = {"model." + name: tensor for name, tensor in state.items()}
    else:
        state.update(
            {name.replace("layer.1.", "layer.2."): tensor for name, tensor in state.items() if "layer.1." in name}
        )
    folder = _bert_folder(replica, tmp_path / "broken", state)
    run = cnbench("run", "--model", folder, "--task", "chnsenticorp", *TINY_RUN, "--output", tmp_path / "out")
    assert run.code == 2 and message in run.err and "Traceback" not in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert not list((tmp_path / "out").rglob("*.json"))


@pytest.mark.parametrize("family", ["roberta", "albert"])
def test_bert_vocabulary_checkpoints_of_other_families_get_the_bert_tokenizer(cnbench, tmp_path, replica, family):
    from transformers import AlbertConfig, AlbertModel, RobertaConfig, RobertaModel

    folder = tmp_path / family
    if family == "roberta":
        model = RobertaModel(
            RobertaConfig(
                vocab_size=21128,
                hidden_size=64,
                num_hidden_layers=1,
                num_attention_heads=2,
                intermediate_size=128,
                pad_token_id=0,
                max_position_embeddings=64,
            )
        )
    else:
        model = AlbertModel(
            AlbertConfig(
                vocab_size=21128,
                embedding_size=32,
                hidden_size=64,
                num_hidden_layers=1,
                num_attention_heads=2,
                intermediate_size=128,
                max_position_embeddings=64,
            )
        )
    model.save_pretrained(folder)
    shutil.copy(replica.tokenizer_dir / "vocab.txt", folder / "vocab.txt")
    run = cnbench("run", "--model", folder, "--task", "chnsenticorp", *TINY_RUN, "--output", tmp_path / "out")
    assert run.code == 0, run.err
    tokenizer = only_result(tmp_path / "out")["tokenizer"]
    assert tokenizer["class"] == "BertTokenizer" and tokenizer["normalization"] == "lowercase"


def test_a_tokenizer_that_does_not_fit_the_embeddings_is_refused(cnbench, tmp_path, replica):
    folder = _bert_folder(replica, tmp_path / "small-vocab", None, vocab_size=1000)
    run = cnbench("run", "--model", folder, "--task", "chnsenticorp", *TINY_RUN, "--output", tmp_path / "out")
    assert run.code == 2 and "1000 embedding rows" in run.err and "--tokenizer" in run.err


def test_tokenizer_override_is_recorded_and_enters_the_run_key(cnbench, tmp_path, replica):
    args = ("run", "--model", "scratch-tiny", "--task", "chnsenticorp", *TINY_RUN)
    assert cnbench(*args, "--output", tmp_path / "a").code == 0
    override = cnbench(*args, "--tokenizer", "google-bert/bert-base-chinese", "--output", tmp_path / "b")
    assert override.code == 0, override.err
    plain, overridden = only_result(tmp_path / "a"), only_result(tmp_path / "b")
    assert overridden["tokenizer"]["source"] == "google-bert/bert-base-chinese"
    assert overridden["tokenizer"]["revision"] == _main_commit("model", "google-bert/bert-base-chinese")
    assert "revision" not in plain["tokenizer"]  # a local folder: its files are what they are
    assert overridden["protocol"]["tokenizer"] == "google-bert/bert-base-chinese"
    assert plain["run_key"] != overridden["run_key"]
    assert plain["predictions"] == overridden["predictions"]  # the same vocabulary and normalisation


def test_tokenizer_override_by_alias_reads_that_models_pinned_tokenizer(cnbench, tmp_path, replica):
    run = cnbench(
        "run",
        "--model",
        "scratch-tiny",
        "--task",
        "chnsenticorp",
        *TINY_RUN,
        "--tokenizer",
        "macbert",
        "--output",
        tmp_path / "alias",
    )
    assert run.code == 0, run.err
    tokenizer = only_result(tmp_path / "alias")["tokenizer"]
    assert tokenizer["source"] == "hfl/chinese-macbert-base"
    assert tokenizer["revision"] == COMMITS["hfl/chinese-macbert-base"] and "warning" not in tokenizer
    # The same files named by Hub id and commit: the same model build, one leaderboard row
    from cnbench.leaderboard.select import row_of

    pinned = cnbench(
        "run",
        "--model",
        "scratch-tiny",
        "--task",
        "chnsenticorp",
        *TINY_RUN,
        "--tokenizer",
        f"hfl/chinese-macbert-base@{COMMITS['hfl/chinese-macbert-base']}",
        "--output",
        tmp_path / "pinned",
    )
    assert pinned.code == 0, pinned.err
    assert row_of(only_result(tmp_path / "pinned")) == row_of(only_result(tmp_path / "alias"))


def test_a_tokenizer_override_of_another_size_than_the_embeddings_is_warned_about(cnbench, tmp_path, replica):
    folder = _bert_folder(replica, tmp_path / "wide-vocab", None, vocab_size=21200)
    own = cnbench("run", "--model", folder, "--task", "chnsenticorp", *TINY_RUN, "--output", tmp_path / "own")
    assert own.code == 0, own.err
    assert "WARNING" not in own.out and "warning" not in only_result(tmp_path / "own")["tokenizer"]
    other = cnbench(
        "run",
        "--model",
        folder,
        "--task",
        "chnsenticorp",
        *TINY_RUN,
        "--tokenizer",
        "bert",
        "--output",
        tmp_path / "other",
    )
    assert other.code == 0, other.err
    warning = only_result(tmp_path / "other")["tokenizer"]["warning"]
    assert "has 21128 tokens" in warning and "21200 embedding rows" in warning and f"WARNING: {warning}" in other.out


def test_a_plain_hub_id_can_be_pinned_and_a_missing_revision_is_named(cnbench, tmp_path, replica):
    commit = COMMITS["hfl/chinese-macbert-base"]
    pinned = cnbench(
        "run",
        "--model",
        f"hfl/chinese-macbert-base@{commit}",
        "--task",
        "chnsenticorp",
        *TINY_RUN,
        "--output",
        tmp_path / "pinned",
    )
    assert pinned.code == 0, pinned.err
    model = only_result(tmp_path / "pinned")["model"]
    assert (model["id"], model["revision"], model["requested_revision"]) == ("hfl/chinese-macbert-base", commit, commit)
    absent = "0" * 40
    missing = cnbench(
        "run",
        "--model",
        f"hfl/chinese-macbert-base@{absent}",
        "--task",
        "chnsenticorp",
        *TINY_RUN,
        "--output",
        tmp_path / "missing",
    )
    assert missing.code == 2 and f"'hfl/chinese-macbert-base' at revision '{absent}'" in missing.err
    assert "not in the Hugging Face cache" in missing.err and len(missing.err.strip().splitlines()) == 1


def test_seeds_made_with_different_revisions_of_an_alias_are_not_averaged(cnbench, tmp_path, replica):
    resumable = tuple(arg for arg in TINY_RUN if arg != "--no-checkpoint")
    args = ("run", "--model", "bert", "--task", "chnsenticorp", *resumable, "--seeds", "1,2,3", "--output", tmp_path)
    first = cnbench(*args)
    assert first.code == 0, first.err
    assert "test accuracy over 3 seeds: " in first.out and "not averaged" not in first.err
    # main moved on between sessions: --resume keeps seed 3 as written, made with the older commit
    path = next(tmp_path.glob("*--seed3.json"))
    result = json.loads(path.read_text(encoding="utf-8"))
    result["model"]["revision"] = "f" * 40
    path.write_text(json.dumps(result), encoding="utf-8")
    again = cnbench(*args, "--resume")
    assert again.code == 0, again.err
    assert "not averaged together: these seeds belong to 2 leaderboard cells" in again.err
    from cnbench.results import model_identity

    identity = model_identity(
        {"id": "google-bert/bert-base-chinese", "revision": _main_commit("model", "google-bert/bert-base-chinese")}
    )
    assert f"test accuracy over 2 seeds (model identity {identity}, " in again.out and "seeds 1, 2)" in again.out
    assert "over 3 seeds" not in again.out


@pytest.mark.slow
def test_the_leaderboard_bootstraps_a_hub_scored_column_on_the_hubs_gold(cnbench, tmp_path, replica, data_dir):
    local = tmp_path / "data" / "chnsenticorp"  # small local files, other rows than the replica's test split
    local.mkdir(parents=True)
    for split, skip in (("train", 200), ("dev", 100), ("test", 100)):
        with gzip.open(data_dir / "chnsenticorp" / f"{split}.tsv.gz", "rt", encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        (local / f"{split}.tsv.gz").write_bytes(
            gzip.compress("\n".join(lines[:1] + lines[1 + skip : 25 + skip]).encode())
        )
    results = tmp_path / "results"
    for source in ("hub", "local"):  # one column on the Hub's test split, one on the local file
        for head in ("linear", "bilstm"):
            run = cnbench(
                "run",
                "--model",
                "scratch-tiny",
                "--task",
                "chnsenticorp",
                "--source",
                source,
                "--head",
                head,
                "--epochs",
                "1",
                "--max-len",
                "32",
                "--batch-size",
                "8",
                "--no-checkpoint",
                "--data-dir",
                tmp_path / "data",
                "--output",
                results,
            )
            assert run.code == 0, run.err
    page = tmp_path / "board" / "README.md"
    made = cnbench("leaderboard", "--results", results, "--out", page, "--data-dir", tmp_path / "data")
    assert made.code == 0, made.err
    text = page.read_text(encoding="utf-8")
    assert "gold not verified" not in text and "no bootstrap" not in text
    significance = text.split("## Significance", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in significance.splitlines() if line.startswith("| [[")]
    assert len(rows) == 4 and sum("★ best" in row for row in rows) == 2
    bootstrapped = [row.split(" | ")[6] for row in rows if "★ best" not in row]  # Bootstrap p
    assert len(bootstrapped) == 2 and all(p != "—" for p in bootstrapped), rows


def test_a_tokenizer_path_typo_is_named_as_no_folder(cnbench, tmp_path, replica):
    run = cnbench(
        "run",
        "--model",
        "scratch-tiny",
        "--task",
        "chnsenticorp",
        *TINY_RUN,
        "--tokenizer",
        "tokenizers/bret",
        "--output",
        tmp_path,
    )
    assert run.code == 2 and "tokenizer 'tokenizers/bret' (no folder of that name; looked up as a Hub id)" in run.err


def test_only_model_weight_files_make_a_folders_weights_hash(tmp_path):
    from cnbench.models.encoders import _weight_files

    for name in ("model.safetensors", "pytorch_model-00001-of-00002.bin", "training_args.bin", "optimizer.pt"):
        (tmp_path / name).write_bytes(b"x")
    assert [path.name for path in _weight_files(tmp_path)] == ["model.safetensors", "pytorch_model-00001-of-00002.bin"]


# -- failing fast, with one line ------------------------------------------------------------------


def test_offline_failure_names_the_cache_and_what_to_do(cnbench, tmp_path, monkeypatch):
    run = cnbench("run", "--model", "hfl/chinese-not-there", "--task", "chnsenticorp", *TINY_RUN, "--output", tmp_path)
    assert run.code == 2 and "not in the Hugging Face cache" in run.err and "HF_HUB_OFFLINE is set" in run.err
    assert len(run.err.strip().splitlines()) == 1


def test_without_a_network_the_hub_is_given_up_after_one_probe(cnbench, tmp_path, monkeypatch):
    from cnbench import hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub.unreachable_reason.cache_clear()
    try:
        if hub.unreachable_reason() is None:
            pytest.skip("this machine reaches the Hub")
        run = cnbench(
            "run", "--model", "hfl/chinese-not-there", "--task", "chnsenticorp", *TINY_RUN, "--output", tmp_path
        )
    finally:
        hub.unreachable_reason.cache_clear()
    assert run.code == 2 and "the Hub is not reachable (cannot connect to" in run.err
    assert len(run.err.strip().splitlines()) == 1


def test_without_a_network_a_cached_model_loads_without_asking_the_hub(cnbench, tmp_path, monkeypatch, replica):
    import transformers.models.auto.auto_factory as auto_factory

    from cnbench import hub

    adapter_lookups = []
    find_adapter = auto_factory.find_adapter_config_file

    def recording(model_id, **kwargs):
        adapter_lookups.append(kwargs.get("local_files_only"))
        return find_adapter(model_id, **kwargs)

    monkeypatch.setattr(auto_factory, "find_adapter_config_file", recording)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub.unreachable_reason.cache_clear()
    try:
        if hub.unreachable_reason() is None:
            pytest.skip("this machine reaches the Hub")
        run = cnbench("run", "--model", "macbert", "--task", "chnsenticorp", *TINY_RUN, "--output", tmp_path)
    finally:
        hub.unreachable_reason.cache_clear()
    assert run.code == 0, run.err
    # With peft installed, transformers looks for an adapter config on every load; offline, it
    # must look in the cache only, not retry the Hub (about 20 s a load)
    assert adapter_lookups == [True]


def test_a_missing_checkpoint_folder_is_named_as_a_folder(cnbench, tmp_path):
    run = cnbench("run", "--model", "./checkpoints/run-7", "--task", "chnsenticorp", "--output", tmp_path)
    assert run.code == 2 and "./checkpoints/run-7: no such checkpoint folder" in run.err


@pytest.mark.parametrize("variable", ["CNBENCH_DATA_DIR", "CNBENCH_SHARED_DIR"])
def test_a_data_location_that_does_not_exist_is_an_error(cnbench, tmp_path, monkeypatch, variable):
    monkeypatch.setenv(variable, str(tmp_path / "typo"))
    run = cnbench("run", "--task", "chnsenticorp", "--limit", "8", "--output", tmp_path / "out")
    assert run.code == 2 and f"{variable} {tmp_path / 'typo'}: no such directory" in run.err


def test_a_data_location_one_level_too_high_is_an_error(cnbench, tmp_path, monkeypatch):
    (tmp_path / "shared" / "data" / "chnsenticorp").mkdir(parents=True)
    run = cnbench(
        "run", "--task", "chnsenticorp", "--limit", "8", "--data-dir", tmp_path / "shared", "--output", tmp_path / "out"
    )
    assert run.code == 2 and f"name {tmp_path / 'shared' / 'data'} instead" in run.err

    check = cnbench("check-task", "chnsenticorp", "--data-dir", tmp_path / "shared")
    assert check.code == 2 and f"name {tmp_path / 'shared' / 'data'} instead" in check.err

    monkeypatch.setenv("CNBENCH_SHARED_DIR", str(tmp_path / "shared" / "data"))  # the data folder, not the bundle
    run = cnbench("run", "--task", "lcqmc", "--limit", "8", "--output", tmp_path / "out")
    assert run.code == 2 and "holds task folders (chnsenticorp/): it is a data directory" in run.err
    assert not list((tmp_path / "out").glob("*.json"))


# -- original files by URL --------------------------------------------------------------------------


def test_the_declared_git_blob_ids_match_the_real_files(data_dir, tmp_path):
    from cnbench.hashing import git_blob_sha1

    for name, blob in (
        ("dev.txt.gz", "ba83924f26353970a89cc5d266e98de13ff1eb8d"),
        ("test.txt.gz", "a047f4ed6dcc7940640123a66a4acccfa8437d6b"),
    ):
        plain = tmp_path / name.removesuffix(".gz")
        with gzip.open(data_dir / "peoples_daily_ner" / name, "rb") as packed:
            plain.write_bytes(packed.read())
        assert git_blob_sha1(plain) == blob


@pytest.fixture
def file_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_downloads_are_kept_only_with_the_declared_checksum(file_server, monkeypatch):
    from cnbench.data.download import download_path, fetch_verified
    from cnbench.errors import CnbenchError
    from cnbench.hashing import file_sha256, git_blob_sha1

    served, base = file_server
    (served / "example.dev").write_text("中 B-LOC\n国 I-LOC\n\n", encoding="utf-8")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    good = "git-blob:" + git_blob_sha1(served / "example.dev")
    path = fetch_verified(base + "example.dev", good, "demo")
    assert (
        path == download_path(base + "example.dev", good, "demo")
        and path.read_bytes() == (served / "example.dev").read_bytes()
    )

    wrong = "sha256:" + "0" * 64
    with pytest.raises(CnbenchError, match="expected 0000"):
        fetch_verified(base + "example.dev", wrong, "demo")
    assert not download_path(base + "example.dev", wrong, "demo").exists()
    assert not list(download_path(base + "example.dev", wrong, "demo").parent.glob("*"))

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    other = "sha256:" + file_sha256(served / "example.dev")
    with pytest.raises(CnbenchError, match="HF_HUB_OFFLINE is set; place the file at"):
        fetch_verified(base + "example.dev", other, "demo")


def test_a_missing_data_folder_is_reported_before_any_heavy_import(tmp_path):
    code = (
        "import sys\nfrom cnbench.cli import main\ntry:\n    main(['run', '--task', 'chnsenticorp', "
        f"'--data-dir', {str(tmp_path / 'typo')!r}])\nexcept SystemExit as exit_:\n"
        "    assert exit_.code == 2, exit_.code\n    assert 'torch' not in sys.modules\n    print('checked')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "checked", run.stderr
    assert f"--data-dir {tmp_path / 'typo'}: no such directory" in run.stderr
