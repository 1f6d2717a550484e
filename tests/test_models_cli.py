"""`lit-video models`: one line per model that fits the terminal (80 columns piped), a model's card, globs, a typo's
"did you mean"; and the catalog it reads, checked against the registry measured now."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lit_video.cli import CATALOG, main
from lit_video.models import list_models, model_info


def first_words(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("columns", [80, 60])
def test_one_line_per_model_within_the_terminal_width(columns, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= columns
    words = first_words(out)
    assert all(words.count(name) == 1 for name in list_models())
    assert out.splitlines()[0].split()[:2] == ["name", "family"]


@pytest.mark.integration
def test_piped_it_is_80_columns_one_line_per_model_without_ansi_codes():
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run([sys.executable, "-m", "lit_video.cli", "models"], capture_output=True, text=True,
                          env=env, check=True)
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "\x1b" not in done.stdout
    c3d = next(line.split() for line in lines if line.startswith("c3d "))
    assert c3d[:3] == ["c3d", "c3d", "16x112"]
    assert sum(line.split()[0] in list_models() for line in lines if line) == len(list_models())


def test_a_glob_picks_whole_names_and_a_word_any_name_containing_it(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["models", "vivit*"]) == 0
    vivit = [w for w in first_words(capsys.readouterr().out) if w in list_models()]
    assert vivit == list_models("vivit*") and len(vivit) == 8
    assert main(["models", "*_base"]) == 0
    assert all(w.endswith("_base") for w in first_words(capsys.readouterr().out) if w in list_models())


@pytest.mark.parametrize("pattern, message", [
    ("c3dd", "lit-video models: no model matches 'c3dd'; did you mean c3d?"),
    ("vivt*", "lit-video models: no model matches 'vivt*'; did you mean vivit, mvit?"),
    ("xyzzy", "lit-video models: no model matches 'xyzzy'; `lit-video models` lists them all"),
])
def test_a_pattern_that_matches_nothing_says_so_in_one_line_and_exits_1(pattern, message, capsys):
    assert main(["models", pattern]) == 1
    captured = capsys.readouterr()
    assert captured.err == message + "\n" and captured.out == ""


def test_a_models_card_has_its_description_without_markup_and_its_published_figures_beside_ours(capsys,
                                                                                                monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["models", "i3d_r50"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert out.startswith("i3d_r50: family i3d, task classification\n")
    assert 'I3D ResNet-50 as published (inflation="3x1x1")' in out and "``" not in out
    assert "default clip   8 frames of 112x112 px" in out
    assert "inflation='3x1x1'" in out  # a builder option with its default
    published = model_info("i3d_r50").published[0]
    assert published.summary().split(";")[0][:40] in out.replace("\n               ", " ")
    assert "lit-video      28,043,472 params against 28,043,472 (+0.0%): agrees" in out


def test_json_gives_the_catalog_entries_with_their_cost(capsys):
    import json

    assert main(["models", "--json", "c3d"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["name"] == "c3d" and entry["frames"] == 16 and entry["gmacs"] > 38
    info = json.loads(json.dumps(model_info("c3d").to_dict()))  # as JSON has it: tuples are lists
    assert {k: entry[k] for k in info if k != "published"} == {k: v for k, v in info.items() if k != "published"}
    assert [p["summary"] for p in entry["published"]] == [p.summary() for p in model_info("c3d").published]


@pytest.mark.integration
def test_the_committed_catalog_is_what_the_registry_measures_now():
    from lit_video.report.catalog import render

    assert CATALOG.read_text() == render(), "regenerate it: lit-video models --write-catalog"


def test_a_reader_that_leaves_early_is_no_error():
    """`lit-video models | head -1`: a pipe closed before the listing is written ends it quietly, no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "lit_video.cli", "models"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # before the interpreter has started: its first write finds the reader gone
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""
