"""The replica Hub's reading comprehension repositories, hfl/cmrc2018 and clue/clue (config drcd),
read the way ``cnbench.data.load._load_hub`` reads a Hub dataset: the pinned snapshot from the
cache, then ``datasets.load_dataset`` on its folder with the card's data files for the config.
Their rows carry the Hub loaders' ``.strip()`` quirk, which ``align_answers`` undoes."""

from __future__ import annotations

from pathlib import Path

import pytest
from replica_hub import COMMITS, ReplicaHub

from cnbench.data.examples import Answer
from cnbench.data.squad import align_answers, read_squad, span_examples_from_rows

SPLITS = ("train", "validation", "test")
REPOSITORIES = {"hfl/cmrc2018": None, "clue/clue": "drcd"}  # repository -> config


@pytest.fixture(scope="session")
def span_hub(data_dir) -> dict[str, tuple[Path, str, dict]]:
    """Each repository's snapshot folder, resolved commit and loaded splits (only these two are
    laid out: the models and other datasets are not needed here)."""
    import datasets
    from huggingface_hub import constants

    from cnbench import hub
    from cnbench.data.load import _card_data_files

    replica = ReplicaHub(Path(constants.HF_HUB_CACHE), data_dir.parent)
    replica.cmrc2018()
    replica.clue()
    loaded = {}
    for repo_id, config in REPOSITORIES.items():
        folder, commit = hub.snapshot(repo_id, "dataset", COMMITS[repo_id])
        splits = {
            split: datasets.load_dataset(str(folder), config, split=split, data_files=_card_data_files(folder, config))
            for split in SPLITS
        }
        loaded[repo_id] = (folder, commit, splits)
    return loaded


def test_both_repositories_load_at_their_pinned_conversion_commit_with_the_cards_features(span_hub):
    from datasets import Features, Sequence, Value

    features = Features(
        {
            "id": Value("string"),
            "context": Value("string"),
            "question": Value("string"),
            "answers": Sequence({"text": Value("string"), "answer_start": Value("int32")}),
        }
    )
    counts = {
        "hfl/cmrc2018": {"train": 11, "validation": 14, "test": 8},
        "clue/clue": {"train": 6, "validation": 6, "test": 6},
    }
    for repo_id, (folder, commit, splits) in span_hub.items():
        assert commit == COMMITS[repo_id]
        assert {split: len(rows) for split, rows in splits.items()} == counts[repo_id]
        assert all(rows.features == features for rows in splits.values())
        # the answers arrive as the Hub gives them: a dict of lists
        assert set(splits["validation"][0]["answers"]) == {"text", "answer_start"}
        folder_name = "data" if REPOSITORIES[repo_id] is None else REPOSITORIES[repo_id]
        assert sorted(path.relative_to(folder).as_posix() for path in folder.glob(f"{folder_name}/*.parquet")) == [
            f"{folder_name}/{split}-00000-of-00001.parquet" for split in ("test", "train", "validation")
        ]


def test_the_cards_declare_their_configurations_as_the_conversions_wrote_them(span_hub):
    from huggingface_hub import DatasetCard

    from cnbench.data.load import _card_data_files

    cmrc_card = DatasetCard.load(span_hub["hfl/cmrc2018"][0] / "README.md").data
    assert [entry["config_name"] for entry in cmrc_card.configs] == ["default"]
    assert cmrc_card.license == "cc-by-sa-4.0"
    clue_folder = span_hub["clue/clue"][0]
    assert _card_data_files(clue_folder, "drcd") == [{"split": split, "path": f"drcd/{split}-*"} for split in SPLITS]
    assert DatasetCard.load(clue_folder / "README.md").data.dataset_info[0]["config_name"] == "drcd"


def test_splits_hold_the_right_real_questions_and_train_shares_no_passage_with_evaluation(span_hub):
    for _, _, splits in span_hub.values():
        contexts = {split: {row["context"] for row in rows} for split, rows in splits.items()}
        assert not contexts["train"] & (contexts["validation"] | contexts["test"])
    cmrc = span_hub["hfl/cmrc2018"][2]
    assert all(row["id"].startswith("DEV_") for split in ("train", "validation") for row in cmrc[split])
    assert all(row["id"].startswith("TRIAL_") for row in cmrc["test"])  # the Hub's test is the trial set


def test_rows_are_stripped_but_their_starts_are_not_moved(span_hub):
    rows = {row["id"]: row for row in span_hub["hfl/cmrc2018"][2]["validation"]}
    stripped = rows["DEV_158_QUERY_1"]  # the local file's third answer is " 1999年" at 246
    assert stripped["answers"] == {"text": ["1999年"] * 3, "answer_start": [247, 247, 246]}
    assert stripped["context"][246] == " " and stripped["context"].startswith("1999年", 247)
    assert rows["DEV_10_QUERY_2"]["answers"]["answer_start"][2] == -1  # a free-form answer, kept


def test_alignment_repairs_the_hub_rows_to_the_local_files_answers(span_hub, data_dir):
    local = {
        example.id: example
        for name in ("dev.json.gz", "trial.json.gz")
        for example in read_squad(data_dir / "cmrc2018" / name)[0]
    }
    expected_repairs = {
        ("hfl/cmrc2018", "train"): [],
        # the file's own slips (as the local reader repairs them), then the stripped space
        ("hfl/cmrc2018", "validation"): [
            "DEV_101_QUERY_3 answer 1: start 175 -> 174",
            "DEV_101_QUERY_3 answer 2: start 175 -> 174",
            "DEV_101_QUERY_3 answer 3: start 174 -> 173",
            "DEV_158_QUERY_1 answer 3: start 246 -> 247",
        ],
        ("hfl/cmrc2018", "test"): ["TRIAL_21_QUERY_1 answer 1: start 272 -> 273"],
        ("clue/clue", "train"): [],
        ("clue/clue", "validation"): [],
        ("clue/clue", "test"): [],
    }
    for (repo_id, split), repairs in expected_repairs.items():
        where = f"{repo_id}@{COMMITS[repo_id][:7]}[{split}]"
        rows = span_hub[repo_id][2][split]
        examples, lines = align_answers(span_examples_from_rows(rows, {}, where), where)
        assert lines == [f"{where}: {line}" for line in repairs]
        if repo_id != "hfl/cmrc2018":
            continue
        for example in examples:  # each answer is now the local one without its outer whitespace
            for hub_answer, local_answer in zip(example.answers, local[example.id].answers, strict=True):
                text = local_answer.text
                shift = len(text) - len(text.lstrip()) if local_answer.start != -1 else 0
                assert hub_answer == Answer(text.strip(), local_answer.start + shift)
