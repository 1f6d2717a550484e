"""``lit-video report lecture-claims``: verdicts for constructed sweeps, the provenance, and the errors."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from helpers import MARKUP_LABEL, html_tables, markdown_as_html

from lit_video.cli import main
from lit_video.results.schema import make_row

CLASSES = {"appearance": 4, "direction": 4, "order": 4, "speed": 4, "long_range": 4}  # chance 25 %
LOW, MID, HIGH = [0.25, 0.27, 0.23], [0.5, 0.52, 0.48], [0.9, 0.92, 0.88]  # three seeds each, little noise


def accuracies(app=HIGH, direction=LOW, order=LOW, speed=LOW, long_range=LOW):
    return {"appearance": app, "direction": direction, "order": order, "speed": speed, "long_range": long_range}


# Every claim holds but the fifth: lrcn is far below slow fusion on long_range. two_stream's streams (STREAMS): the
# flow stream sees motion, the rgb stream appearance.
BASE = {
    "two_stream": accuracies(direction=HIGH, speed=HIGH),
    "single_frame": accuracies(),
    "late_fusion_pool": accuracies(),
    "late_fusion_fc": accuracies(direction=[0.7, 0.72, 0.68], order=[0.7, 0.72, 0.68], speed=[0.7, 0.72, 0.68]),
    "early_fusion": accuracies(direction=HIGH, speed=HIGH, order=MID, long_range=MID),
    "slow_fusion": accuracies(app=[0.95, 0.96, 0.94], direction=HIGH, order=HIGH, speed=HIGH, long_range=HIGH),
    "lrcn": accuracies(long_range=MID),
    "conv_gru": accuracies(long_range=HIGH),
}


STREAMS = {"two_stream": {"rgb": accuracies(), "flow": accuracies(app=LOW, direction=HIGH, speed=HIGH)}}


def rows_of(models, seeds=3, classes=CLASSES, streams=STREAMS):
    rows = []
    for model, groups in models.items():
        for seed in range(seeds):
            stream_acc = {name: {"video_top1": 0.5, "group_acc": {g: v[seed] for g, v in accs.items()}}
                          for name, accs in streams.get(model, {}).items()} or None
            row = make_row(model=model, variant=model, family=model, dataset="synthetic",
                           dataset_fingerprint={"videos": 480, "hash": "abc123"}, frames=8, size=32, fps=8.0,
                           eval_views=2, seed=seed, video_top1=0.5, group_acc={g: v[seed] for g, v in groups.items()},
                           params=1_000_000, gmacs_per_clip=0.5, gmacs_per_video=1.0,
                           stream_acc=stream_acc, device="cpu: test machine", git_sha="feedbeef",
                           config_hash=f"{model}-{seed}", status="ok")
            rows.append({**row, "group_classes": classes} if classes else row)
    return rows


def report(tmp_path, rows):
    """Write rows to a results folder, run the command in-process; the document and {claim number: verdict}."""
    folder, out = tmp_path / "sweep", tmp_path / "docs" / "claims.md"
    folder.mkdir(exist_ok=True)
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["report", "lecture-claims", str(folder), "--out", str(out)]) == 0
    text = out.read_text()
    verdicts = dict(re.findall(r"### Claim (\d): .*?\*\*Verdict: (.*?)\.\*\*", text, re.DOTALL))
    assert len(verdicts) == 6, text
    return text, {int(k): v for k, v in verdicts.items()}


def test_claims_that_hold_and_one_that_does_not(tmp_path, capsys):
    text, verdicts = report(tmp_path, rows_of(BASE))
    assert verdicts == {1: "held", 2: "held", 3: "held", 4: "held", 5: "did not hold", 6: "held"}
    assert "5 held, 1 did not hold" in capsys.readouterr().out
    assert "## Rules" in text and "within 10 points of chance" in text
    # The evidence names the failing check: lrcn against the best non-recurrent model on long_range.
    assert "lrcn on long_range: 50.0 ± 2.0 % (n 3) vs slow_fusion 90.0 ± 2.0 % (n 3): below → failed" in text
    assert "| chance |  | 25.0 |" in text  # the chance row of the tables
    assert "| lecture_early_fusion (no ok row) | 0 |" in text  # the toy versions are shown, and missing
    # A stream is judged as a line of its own, from its rows' stream accuracies.
    assert ("two_stream\\[flow] on direction: 90.0 ± 2.0 % (n 3) vs two_stream\\[rgb] 25.0 ± 2.0 % (n 3): above → "
            "held" in text)


def test_a_label_is_shown_as_written_not_read_as_markdown(tmp_path):
    """A variant's label with Markdown in it is text in its table cell and in the evidence: no cell break, nothing
    fetched."""
    rows = [{**r, "variant": MARKUP_LABEL} if r["model"] == "single_frame" else r for r in rows_of(BASE)]
    text, verdicts = report(tmp_path, rows)
    assert verdicts[1] == "held"
    html = markdown_as_html(text)
    assert "<img" not in html and "<a " not in html and "<b>" not in html
    tables = html_tables(html)
    assert len(tables) == 7  # a claim's each, and every trained model's
    for table in tables:
        assert {len(cells) for cells in table} == {len(table[0])}
    label = f"single_frame ({MARKUP_LABEL})"
    assert tables[0][1][:2] == [label, "3"]
    assert f"{label} on appearance: 90.0 ± 2.0 % (n 3)" in unescape(re.sub(r"<[^>]+>", "", html))


def test_a_stream_that_does_not_separate_fails_the_two_stream_claim(tmp_path):
    swapped = {"two_stream": {"rgb": accuracies(direction=MID, speed=MID), "flow": accuracies()}}
    _, verdicts = report(tmp_path, rows_of(BASE, streams=swapped))  # the rgb stream beats the flow one on motion
    assert verdicts[6] == "did not hold"
    blind = {"two_stream": {**STREAMS["two_stream"], "flow": accuracies()}}  # the same on motion: not told apart
    _, verdicts = report(tmp_path, rows_of(BASE, streams=blind))
    assert verdicts[6] == "not shown (within noise)"
    _, verdicts = report(tmp_path, rows_of(BASE, streams={}))
    assert verdicts[6] == "no data"


def test_within_noise_missing_model_and_unknown_chance(tmp_path):
    noisy = {**BASE, "early_fusion": {**BASE["early_fusion"], "order": [0.3, 0.95, 0.6]}}
    del noisy["late_fusion_fc"]
    _, verdicts = report(tmp_path, rows_of(noisy))
    assert verdicts[3] == "not shown (within noise)"  # slow fusion's order is not told apart from early fusion's
    assert verdicts[2] == "no data"  # late_fusion_fc missing
    assert verdicts[4] == "held"  # "at least as good": within noise is enough

    _, verdicts = report(tmp_path, rows_of(BASE, classes=None))
    assert verdicts[2] == "not shown (chance unknown)"
    assert verdicts[5] == "did not hold"  # a failed comparison needs no chance


def test_one_seed_is_not_a_claim(tmp_path):
    text, verdicts = report(tmp_path, rows_of(BASE, seeds=1))
    assert verdicts[1] == "held (one seed: not a claim)"
    assert verdicts[5] == "did not hold (one seed: not a claim)"


def test_latest_row_per_config_hash_and_rows_that_are_not_evidence(tmp_path):
    rows = rows_of(BASE)
    stale = [{**r, "group_acc": {**r["group_acc"], "long_range": 0.99}} for r in rows if r["model"] == "lrcn"]
    failed = make_row(model="slow_fusion", variant="slow_fusion", dataset="synthetic", seed=3, status="failed",
                      config_hash="slow_fusion-3", error="RuntimeError: boom")
    profiled = make_row(model="c3d", variant="c3d", dataset="synthetic", seed=0, status="profiled", config_hash="c3d",
                        params=1_000_000, gmacs_per_clip=0.5, gmacs_per_video=1.0, device="cpu: other machine",
                        git_sha="0ddba11")
    text, verdicts = report(tmp_path, [*stale, *rows, failed, profiled])  # the stale lrcn rows come first
    assert verdicts[5] == "did not hold"
    assert "Not evidence (profile-only rows, no accuracy): c3d." in text
    assert "Not evidence (failed rows): slow_fusion (seed 3)." in text
    folder, out = tmp_path / "sweep", tmp_path / "docs" / "claims.md"
    assert f"- Results: `{folder}` (26 latest rows, 24 ok)" in text
    assert "- lit-video commit(s): `0ddba11`, `feedbeef`" in text
    assert "- Device(s): `cpu: other machine`, `cpu: test machine`" in text
    assert '- Dataset fingerprint(s): `{"hash": "abc123", "videos": 480}`' in text
    assert f"- Regenerate: `lit-video report lecture-claims {folder} --out {out}`" in text
    assert "| conv_gru | synthetic | 3 | 90.0 ± 2.0 |" in text  # the full table: every trained model
    assert [p.name for p in out.parent.iterdir()] == ["claims.md"]  # written atomically, nothing left over


def test_without_out_the_report_is_printed_and_nothing_written(tmp_path, capsys, monkeypatch):
    """The committed docs/lecture_claims.md is rewritten only when named: by default the Markdown goes to stdout
    (a pipe gets it alone: the summary goes to stderr) and names the command without --out."""
    text, _ = report(tmp_path, rows_of(BASE))
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    folder = str(tmp_path / "sweep")
    assert main(["report", "lecture-claims", folder]) == 0
    printed = capsys.readouterr()
    assert printed.out == text.replace(f" --out {tmp_path / 'docs' / 'claims.md'}", "")
    assert f"- Regenerate: `lit-video report lecture-claims {folder}`" in printed.out
    assert printed.err == "lit-video report lecture-claims: 5 held, 1 did not hold\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "sweep"]


def test_a_folder_without_results_is_a_clear_error(tmp_path, capsys):
    missing = tmp_path / "no_sweep_here"
    assert main(["report", "lecture-claims", str(missing), "--out", str(tmp_path / "x.md")]) == 2
    err = capsys.readouterr().err
    assert f"no results.jsonl in {missing}" in err and "Traceback" not in err
    assert not (tmp_path / "x.md").exists()


def test_report_help_lists_lecture_claims(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--help"])
    assert exit_.value.code == 0 and "lecture-claims" in capsys.readouterr().out
    assert main(["--help"]) == 0 and "report" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["sweep"], ["report"], *(["report", kind] for kind in
                                                               ("lecture-claims", "fidelity", "html"))])
def test_the_help_of_the_commands_that_write_results_fits_80_columns_and_says_where(command, capsys, monkeypatch):
    """Each says where it writes by default, and how the committed results and docs are written: by name."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    text = capsys.readouterr().out
    assert exit_.value.code == 0 and max(map(len, text.splitlines())) <= 80
    says = {"sweep": "default: my_results", "report": "one subcommand per kind", "lecture-claims": "default: print it",
            "fidelity": "default: print it", "html": "never overwritten by one without them"}
    assert says[command[-1]] in " ".join(text.split())

