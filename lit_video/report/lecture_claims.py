"""``lit-video report lecture-claims``: does a sweep's evidence bear out what the lecture says of each video
family? The claims are data (``CLAIMS``: each a few mechanical checks on class-group accuracies); one function
judges a check, one combines a claim's checks into a verdict, and the rest writes Markdown.

Accuracies are per class group of the built-in data (``group_acc``), averaged over a line's seeds (the rows of
one model variant and clip shape, as in the leaderboard); the noise is the seeds' 95 % interval
(``results.leaderboard.ci95``) and two lines are told apart only when their intervals do not overlap
(``results.leaderboard.within_noise``).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..results.folder import RESULTS_FILE, ResultsFolder, latest_rows, variant_of
from ..results.leaderboard import ci95, line_key, markdown_text, within_noise

MARGIN = 0.10  # "near chance" / "close to the best": within 10 points (accuracies are in [0, 1])
MOTION = ("direction", "order", "speed")
GROUPS = ("appearance", "direction", "order", "speed", "long_range")
BEST = "the best model"  # a check's `other`: the best line on the group (models in `exclude` left out)


@dataclass(frozen=True)
class Check:
    """One mechanical test on ``model``'s accuracy on each of ``groups``.

    kind: ``near_chance``, ``above_chance``, ``close_to`` (``other``: within noise or MARGIN of it),
    ``above`` (better than ``other`` beyond noise), ``at_least`` (not below ``other`` beyond noise)."""

    kind: str
    model: str
    groups: tuple[str, ...]
    other: str | None = None
    exclude: tuple[str, ...] = ()  # with other=BEST: models not counted as "the best"


def stream_line(model: str, stream: str) -> str:
    """The name a claim gives one stream of a multi-stream model: its rows' ``stream_acc`` as a line of its own."""
    return f"{model}[{stream}]"


@dataclass(frozen=True)
class Claim:
    title: str
    quote: str  # the lecture's words
    checks: tuple[Check, ...]
    also: tuple[str, ...] = ()  # shown in the table for context (the lecture's toy versions), not judged

    def models(self) -> list[str]:
        names = [n for c in self.checks for n in (c.model, c.other) if n and n != BEST]
        return list(dict.fromkeys([*names, *self.also]))

    def groups(self) -> list[str]:
        used = {g for c in self.checks for g in c.groups}
        return [g for g in GROUPS if g in used]


CLAIMS = (
    Claim("A single-frame model is a strong baseline for appearance, and cannot see motion",
          '"Often a very strong baseline for video classification"; frames are classified independently.',
          (Check("close_to", "single_frame", ("appearance",), BEST),
           Check("near_chance", "single_frame", MOTION))),
    Claim("Late fusion by pooling cannot compare frames; late fusion with an MLP over the frames' features can",
          'Late fusion with pooling: "Problem: Hard to compare low-level motion between frames"; with FC layers: '
          '"concatenate features and feed to MLP".',
          (Check("near_chance", "late_fusion_pool", MOTION),
           Check("above_chance", "late_fusion_fc", MOTION)),
          also=("lecture_late_fusion",)),
    Claim("Early fusion sees local motion, but one layer of temporal processing may not be enough for "
          "structure across the clip",
          'Early fusion: "First 2D convolution collapses all temporal information"; "Problem: One layer of '
          'temporal processing may not be enough!"; "No temporal shift-invariance!"',
          (Check("above_chance", "early_fusion", ("direction", "speed")),
           Check("above", "slow_fusion", ("order", "long_range"), "early_fusion")),
          also=("lecture_early_fusion", "lecture_3d_cnn")),
    Claim("3D CNNs fuse time slowly and are temporal-shift invariant: they see every kind of motion",
          '3D CNN: "slowly fuse temporal information over the course of the network"; "Temporal shift-invariant '
          'since each filter slides over time!"',
          (Check("above_chance", "slow_fusion", (*MOTION, "long_range")),
           Check("at_least", "slow_fusion", (*MOTION, "long_range"), "early_fusion")),
          also=("lecture_3d_cnn",)),
    Claim("Recurrent models see long-range temporal structure",
          '"Inside RNN: Each vector is a function of all previous vectors (global temporal structure)"; '
          'recurrent CNN: "Infinite temporal extent".',
          tuple(Check(kind, model, ("long_range",), other, exclude=("lrcn", "conv_gru"))
                for model in ("lrcn", "conv_gru")
                for kind, other in (("above_chance", None), ("at_least", BEST)))),
    Claim("Two-stream networks separate motion and appearance: the temporal stream (optical flow) sees motion, "
          "the spatial stream (one frame) appearance",
          '"Separating Motion and Appearance: Two-Stream Networks"; spatial stream "Input: Single Image"; temporal '
          'stream "Input: Stack of optical flow".',
          (Check("above", stream_line("two_stream", "flow"), ("direction", "speed"), stream_line("two_stream", "rgb")),
           Check("near_chance", stream_line("two_stream", "rgb"), ("direction", "speed")),
           Check("above", stream_line("two_stream", "rgb"), ("appearance",), stream_line("two_stream", "flow"))),
          also=("two_stream",)),
)


@dataclass
class Line:
    """The ok rows of one model variant and clip shape (a leaderboard line), with per-group statistics."""

    rows: list[dict[str, Any]]

    @property
    def model(self) -> str:
        return str(self.rows[-1].get("model"))

    @property
    def label(self) -> str:
        variant = variant_of(self.rows[-1])
        return self.model if variant == self.model else f"{self.model} ({variant})"

    def stat(self, group: str) -> dict[str, Any] | None:
        """mean, std, n and 95 % CI half-width (``acc``, ``acc_std``, ``n``, ``acc_ci95``) on one group."""
        values = [r["group_acc"][group] for r in self.rows
                  if group in (r.get("group_acc") or {}) and r["group_acc"][group] is not None]
        if not values:
            return None
        std = statistics.stdev(values) if len(values) > 1 else None
        return {"acc": statistics.fmean(values), "acc_std": std, "n": len(values),
                "acc_ci95": ci95(std, len(values)), "label": self.label}


def _pct(v: float | None) -> str:
    return "?" if v is None else f"{100 * v:.1f}"


def _show(s: dict[str, Any] | None) -> str:
    if s is None:
        return "—"
    return _pct(s["acc"]) + ("" if s["acc_std"] is None else f" ± {_pct(s['acc_std'])}")


def _vs_chance(s: dict[str, Any], chance: float) -> str:
    """``above`` (beyond MARGIN and the interval clear of chance), ``near`` (within MARGIN, or below chance), or
    ``noise`` (beyond MARGIN but the 95 % interval reaches chance)."""
    if s["acc"] <= chance + MARGIN:
        return "near"
    return "noise" if s["acc_ci95"] is not None and s["acc"] - s["acc_ci95"] <= chance else "above"


def _vs(a: dict[str, Any], b: dict[str, Any]) -> str:
    """``above`` / ``below`` / ``within noise`` (95 % intervals overlap); one seed: the means alone."""
    if within_noise(a, b, "acc"):
        return "within noise"
    return "above" if a["acc"] >= b["acc"] else "below"


def judge(check: Check, group: str, lines: dict[str, Line], chance: dict[str, float]) -> tuple[str, str, int]:
    """One check on one group: (outcome, evidence, fewest seeds of a line it used); outcome one of held, failed,
    noise, no data, chance unknown."""
    line = lines.get(check.model)
    s = line.stat(group) if line else None
    if s is None:
        return "no data", f"no ok row of {check.model} has {group}" if line else f"no ok row of {check.model}", 0
    text = f"{s['label']} on {group}: {_show(s)} % (n {s['n']})"
    if check.kind in ("near_chance", "above_chance"):
        if group not in chance:
            return "chance unknown", text + ", chance unknown (rows lack group_classes)", s["n"]
        level = _vs_chance(s, chance[group])
        want = "near" if check.kind == "near_chance" else "above"
        outcome = "noise" if level == "noise" else "held" if level == want else "failed"
        words = {"near": "near chance", "above": "above chance", "noise": "above chance within noise"}[level]
        return outcome, text + f", chance {_pct(chance[group])} %: {words}", s["n"]
    if check.other == BEST:
        stats = [t for name, ln in lines.items() if name not in check.exclude and (t := ln.stat(group))]
        o = max(stats, key=lambda t: t["acc"]) if stats else None
    else:
        o = lines[check.other].stat(group) if check.other in lines else None
    if o is None:
        return "no data", text + f"; no ok row of {check.other} has {group}", s["n"]
    text, n = text + f" vs {o['label']} {_show(o)} % (n {o['n']})", min(s["n"], o["n"])
    rel = _vs(s, o)
    if check.kind == "close_to":
        if rel == "below" and o["acc"] - s["acc"] <= MARGIN:
            rel = f"within {100 * MARGIN:.0f} points"
        return ("failed" if rel == "below" else "held"), text + f": {rel}", n
    if check.kind == "at_least":
        return ("failed" if rel == "below" else "held"), text + f": {rel}", n
    return {"above": "held", "below": "failed", "within noise": "noise"}[rel], text + f": {rel}", n  # "above"


VERDICTS = (("failed", "did not hold"), ("no data", "no data"), ("noise", "not shown (within noise)"),
            ("chance unknown", "not shown (chance unknown)"))


def verdict(outcomes: list[str], one_seed: bool) -> str:
    """A claim's verdict from its checks' outcomes: the first of VERDICTS any check has, else ``held``."""
    text = next((v for o, v in VERDICTS if o in outcomes), "held")
    return text + (" (one seed: not a claim)" if one_seed and text != "no data" else "")


def _group_by_key(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped as the leaderboard groups them (model variant, dataset, clip shape, eval views)."""
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_key.setdefault(line_key(row), []).append(row)
    return list(by_key.values())


def _lines(rows: list[dict[str, Any]]) -> dict[str, Line]:
    """One line per model: its own-named variant if there is one, else the line with most seeds; and each stream of
    a multi-stream model as a line of its own (``stream_line``: its rows with the stream's accuracies)."""
    lines: dict[str, Line] = {}
    for members in sorted(_group_by_key(rows), key=lambda m: (variant_of(m[-1]) != m[-1].get("model"), -len(m))):
        lines.setdefault(str(members[-1].get("model")), Line(members))
    for name, line in list(lines.items()):
        for stream in dict.fromkeys(s for r in line.rows for s in r.get("stream_acc") or {}):
            label = stream_line(name, stream)
            lines[label] = Line([{**r, "model": label, "variant": label,
                                  "group_acc": ((r.get("stream_acc") or {}).get(stream) or {}).get("group_acc")}
                                 for r in line.rows])
    return lines


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(map(markdown_text, header)) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(map(markdown_text, cells)) + " |" for cells in body)]


def _chance_of(rows: list[dict[str, Any]]) -> dict[str, float]:
    chance = {}
    for row in rows:  # later rows win
        chance.update({g: 1 / k for g, k in (row.get("group_classes") or {}).items() if k})
    return chance


def _stamp(rows: list[dict[str, Any]], field: str) -> str:
    values = {json.dumps(r[field], sort_keys=True) if isinstance(r.get(field), dict) else str(r[field])
              for r in rows if r.get(field)}
    return ", ".join(markdown_text(v, code=True) for v in sorted(values)) or "unknown"


def render(rows: list[dict[str, Any]], source: str, command: str) -> tuple[str, list[str]]:
    """The Markdown report of a sweep's rows (every row of results.jsonl) and the claims' verdicts."""
    rows = latest_rows(rows)
    ok = [r for r in rows if r.get("status") == "ok"]
    datasets = sorted({str(r.get("dataset")) for r in ok})
    source_code, command_code = markdown_text(source, code=True), markdown_text(command, code=True)
    out = ["# The lecture's claims, checked against a sweep", "",
           f"Generated by {command_code} from {source_code}. For each claim of the lecture "
           "(Lecture 10, \"Video Understanding\") on what a video family can see, the evidence is the accuracy "
           "of the models that bear on it on the built-in data's class groups: `appearance` (a static shape or "
           "texture names the class), `direction` (direction of motion), `order` (only the order of frames "
           "tells), `speed` (same motion, different speeds), "
           "`long_range` (structure spanning the whole clip).", "",
           "## Rules", "",
           "- Rows: the latest row of each config hash (a rerun replaces the earlier try); only `ok` rows are "
           "evidence. A model's line is its seeds averaged (the variant named like the model, else the one with "
           "most seeds). Accuracy = mean over seeds ± their standard deviation, in %; n = seeds.",
           "- Noise: the 95 % confidence interval of a mean (Student's t, as in the leaderboard); one seed has "
           "no interval.",
           f"- *Near chance*: mean within {100 * MARGIN:.0f} points of chance (1 / classes in the group, from "
           "the rows' `group_classes`) or below it. *Above chance*: more than "
           f"{100 * MARGIN:.0f} points above chance and the interval clear of it. A mean more than "
           f"{100 * MARGIN:.0f} points above chance whose interval reaches chance is *within noise*.",
           "- *Better than* another model (`above`): the two intervals do not overlap and its mean is higher; "
           "overlapping intervals are *within noise*. *At least as good*: not worse beyond noise. *Close to the "
           f"best*: within noise of the best model on that group, or within {100 * MARGIN:.0f} points of it. "
           "With one seed, means are compared as they are.",
           "- Verdict: *did not hold* if any check fails; else *no data* if a model or group is missing; else "
           "*not shown (within noise)* if any check is within noise; else *not shown (chance unknown)* if a "
           "check against chance has no `group_classes`; else *held*. A verdict resting on a one-seed line says "
           "*one seed: not a claim*.", ""]
    verdicts = []
    for dataset in datasets:
        ds_rows = [r for r in ok if str(r.get("dataset")) == dataset]
        lines, chance = _lines(ds_rows), _chance_of(ds_rows)
        if len(datasets) > 1:
            out += [f"## Dataset {markdown_text(dataset, code=True)}", ""]
        for number, claim in enumerate(CLAIMS, 1):
            groups = claim.groups()
            judged = [(c, g, *judge(c, g, lines, chance)) for c in claim.checks for g in c.groups]
            text = verdict([o for _, _, o, _, _ in judged], any(n == 1 for *_, n in judged))
            verdicts.append(text)
            body = [[lines[m].label if m in lines else f"{m} (no ok row)",
                     str(len(lines[m].rows)) if m in lines else "0",
                     *(_show(lines[m].stat(g) if m in lines else None) for g in groups)]
                    for m in claim.models()]
            body.append(["chance", "", *(_pct(chance.get(g)) for g in groups)])
            out += [f"### Claim {number}: {claim.title}", "", f"Lecture: {claim.quote}", "",
                    *_table(["model", "seeds", *(f"{g} %" for g in groups)], body), "",
                    f"**Verdict: {text}.**", ""]
            out += [f"- {c.kind.replace('_', ' ')}: {markdown_text(evidence)} → {outcome}"
                    for c, _, outcome, evidence, _ in judged]
            if claim.also:
                out.append(f"- shown for context, not judged: {', '.join(claim.also)}")
            out.append("")
    if not datasets:
        verdicts = ["no data"] * len(CLAIMS)
        out += ["No `ok` rows: every claim has no data.", ""]
    groups = sorted({g for r in ok for g in r.get("group_acc") or {}}, key=lambda g: (GROUPS + (g,)).index(g))
    all_lines = [Line(m) for m in _group_by_key(ok)]
    out += ["## Every trained model", "", "Accuracy % per class group, mean ± std over seeds (n seeds).", "",
            *_table(["model", "dataset", "seeds", *groups],
                    [[ln.label, str(ln.rows[-1].get("dataset")), str(len(ln.rows)),
                      *(_show(ln.stat(g)) for g in groups)] for ln in all_lines]), ""]
    profiled = sorted({variant_of(r) for r in rows if r.get("status") == "profiled"})
    failed = sorted({f"{variant_of(r)} (seed {r.get('seed')})" for r in rows if r.get("status") == "failed"})
    if profiled:
        out += [f"Not evidence (profile-only rows, no accuracy): {markdown_text(', '.join(profiled))}.", ""]
    if failed:
        out += [f"Not evidence (failed rows): {markdown_text(', '.join(failed))}.", ""]
    out += ["## Provenance", "", f"- Results: {source_code} ({len(rows)} latest rows, {len(ok)} ok)",
            f"- lit-video commit(s): {_stamp(rows, 'git_sha')}", f"- Device(s): {_stamp(rows, 'device')}",
            f"- Dataset fingerprint(s): {_stamp(ok, 'dataset_fingerprint')}",
            f"- Regenerate: {command_code}", ""]
    return "\n".join(out), verdicts


def results_file(folder: str | Path) -> Path:
    """``FOLDER/results.jsonl`` (or FOLDER itself when it is that file); FileNotFoundError naming the folder."""
    folder = Path(folder)
    path = folder if folder.is_file() else ResultsFolder(folder).results_file
    if not path.is_file():
        raise FileNotFoundError(f"no {RESULTS_FILE} in {folder} (give a sweep's results folder, e.g. "
                                "results/lecture)")
    return path
