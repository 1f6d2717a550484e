"""The results schema: every field of a results row and of a leaderboard line, defined once.

A field says what it is called, its header and unit in a table, how a value prints, whether it is measured by timing
(and so differs from run to run of one entry), which tasks fill it, how a leaderboard line combines the seeds' values,
which way is better (for ``lit-video compare``), for a metric, the test metric it is read from, and what a row's
value may be (``Field.kind``) and which statuses need it (``Field.needed_by``): ``row_problems``. Rows
(``results.jsonl``), the CSV / Markdown / JSON leaderboards, the wandb summaries and tables, ``lit-video compare``, the
HTML report and the lecture claims are projections of ``FIELDS``: adding a field is adding one ``Field`` here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..profiling.counting import gflops
from ..terminal import fit

ALL_TASKS = ("*",)  # a field every task fills (the entry, its cost, its stamp)
CLASSIFICATION = ("classification",)


# What a row's value of a field may be: a check that returns what is wrong with a value, as the rest of a sentence
# that names the field (`` is 5.0, not a fraction in [0, 1]``; in a mapping ``["motion"] is ...``), or None.
Kind = Callable[[Any], str | None]


def _shown(value: Any) -> str:
    """A value as the rows file writes it (NaN, "text"), cut short."""
    return fit(json.dumps(value, default=str), 40)


def _kind(what: str, fits: Callable[[Any], bool]) -> Kind:
    return lambda value: None if fits(value) else f" is {_shown(value)}, not {what}"


def _real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


TEXT = _kind("text", lambda v: isinstance(v, str))
INTEGER = _kind("an integer", _integer)
COUNT = _kind("an integer >= 0", lambda v: _integer(v) and v >= 0)
NUMBER = _kind("a finite number", _real)
AMOUNT = _kind("a number >= 0", lambda v: _real(v) and v >= 0)
FRACTION = _kind("a fraction in [0, 1]", lambda v: _real(v) and 0 <= v <= 1)


def one_of(*choices: str) -> Kind:
    return _kind(f"one of {', '.join(choices)}", lambda v: v in choices)


def mapping(each: Kind | None = None, **keys: Kind) -> Kind:
    """A JSON object whose every value is ``each``, or whose named ``keys`` are theirs (a None value: not
    measured)."""

    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f" is {_shown(value)}, not a mapping"
        for key, item in value.items():
            kind = each or keys.get(key)
            if item is not None and kind and (problem := kind(item)):
                return f"[{json.dumps(key)}]{problem}"
        return None

    return check


# A row's outcome (``status``): trained and tested, profiled only (its config says so), or failed. The first two are
# done (resume skips the entry): they have their cost, and an ok row its accuracy (``Field.needed_by``).
STATUSES = ("ok", "profiled", "failed")
DONE_STATUSES = ("ok", "profiled")


def text(value: Any) -> str:
    return "" if value is None else str(value)


def percent(value: Any) -> str:
    """A fraction in [0, 1] as a percentage with one decimal."""
    return "" if value is None else f"{100 * value:.1f}"


def decimals(digits: int) -> Callable[[Any], str]:
    return lambda value: "" if value is None else f"{value:,.{digits}f}"


def millions(value: Any) -> str:
    return "" if value is None else f"{value / 1e6:.2f}"


def videos_and_hash(value: Any) -> str:
    """A dataset fingerprint as people read it: ``36 videos, hash 57c557b39fdd``."""
    return "" if value is None else f"{value['videos']} videos, hash {value['hash']}"


@dataclass(frozen=True)
class Field:
    """One results field.

    ``row``: stored in a results row (False: a leaderboard line's own, made when the rows are combined).
    ``header``: its column's header in the leaderboard tables, unit included (None: not a column); a per-group
    field's names the group (``{group}``), each group a column.
    ``seeds``: how a leaderboard line combines its seeds' rows: ``key`` (identifies the line), ``last`` (the latest
    row's), ``accuracy`` (the mean over trained seeds, with ``<name>_std`` and ``<name>_ci95`` beside it), ``mean``
    (over the seeds that measured cost), ``groups`` / ``streams`` (a mean per class group / per stream), ``derived``
    (computed from another field of the line: ``derive``), ``line`` (made by the leaderboard itself), or None (rows
    only). ``metric``: the test metrics the row takes it from, the first logged (a name ending in ``/`` collects
    ``<metric><group>`` into a mapping). ``better``: ``higher`` or ``lower`` where ``lit-video compare`` judges it.
    ``kind``: what a row's value may be (None, the row lacking it, is always allowed: rows of older versions lack
    the newer fields); ``needed_by``: the statuses whose rows must have it (where the field applies to their task).
    """

    name: str
    description: str
    header: str | None = None
    unit: str = ""
    format: Callable[[Any], str] = text
    row: bool = True
    seeds: str | None = "last"
    timed: bool = False
    tasks: tuple[str, ...] = ALL_TASKS
    metric: tuple[str, ...] = ()
    better: str | None = None
    derive: Callable[[dict[str, Any]], Any] | None = None
    default: Any = None  # the value of a row written before the field existed
    default_view: bool = False
    kind: Kind | None = None
    needed_by: tuple[str, ...] = ()

    def of(self, row: dict[str, Any]) -> Any:
        """The field's value in ``row`` (``default`` where the row predates the field)."""
        value = row.get(self.name)
        return self.default if value is None else value

    def applies_to(self, task: str) -> bool:
        return self.tasks == ALL_TASKS or task in self.tasks


FIELDS: tuple[Field, ...] = (
    # What the entry is.
    Field("task", "what the model was trained and scored on (lit_video.tasks)", default="classification", kind=TEXT),
    Field("rank", "rank by video top-1 within its dataset (trained lines only)", "#", row=False, seeds="line",
          default_view=True),
    Field("model", "registry name", "model", kind=TEXT, needed_by=STATUSES),
    Field("variant", "the model variant's label in its sweep (its name where the sweep has one variant)", "variant",
          seeds="key", default_view=True, kind=TEXT),
    Field("family", "the model's family (lit-video models)", "family", kind=TEXT),
    Field("dataset", "the dataset's label", "dataset", seeds="key", kind=TEXT, needed_by=STATUSES),
    Field("dataset_fingerprint", "videos and hash of the dataset's classes, splits and labels",
          format=videos_and_hash, kind=mapping(videos=COUNT, hash=TEXT)),
    Field("frames", "frames per clip", "frames", seeds="key", kind=COUNT),
    Field("size", "clip height = width", "size", "px", seeds="key", kind=COUNT),
    Field("fps", "frames per second the clips are sampled at", "fps", seeds="key", kind=AMOUNT),
    Field("eval_views", "test views per video (clips x crops)", "views", seeds="key", kind=COUNT),
    Field("seed", "the entry's seed", seeds=None, kind=INTEGER, needed_by=STATUSES),
    Field("seeds", "trained seeds averaged in the line", "seeds", row=False, seeds="line"),
    # How well it does (classification; multi-label data reports hit@k as top-k).
    Field("video_top1", "video-level top-1 (softmax averaged over the eval views)", "video top-1 %", "%", percent,
          seeds="accuracy", tasks=CLASSIFICATION, metric=("test/video_top1", "test/video_hit1"), better="higher",
          default_view=True, kind=FRACTION, needed_by=("ok",)),
    Field("video_top1_std", "standard deviation of video top-1 over seeds", "± (seeds)", "%", percent, row=False,
          seeds="line", tasks=CLASSIFICATION),
    Field("video_top1_ci95", "half-width of the 95 % interval of the mean video top-1 (Student's t)", "95% CI ±",
          "%", percent, row=False, seeds="line", tasks=CLASSIFICATION, default_view=True),
    Field("video_top5", "video-level top-5", "video top-5 %", "%", percent, seeds="accuracy", tasks=CLASSIFICATION,
          metric=("test/video_top5", "test/video_hit5"), kind=FRACTION),
    Field("clip_top1", "clip-level top-1 (each view alone)", "clip top-1 %", "%", percent, seeds="accuracy",
          tasks=CLASSIFICATION, metric=("test/clip_top1",), better="higher", kind=FRACTION),
    Field("clip_top5", "clip-level top-5", unit="%", format=percent, seeds="accuracy", tasks=CLASSIFICATION,
          metric=("test/clip_top5",), kind=FRACTION),
    Field("mean_class_acc", "video top-1 averaged over the classes present", "mean class acc %", "%", percent,
          seeds="accuracy", tasks=CLASSIFICATION, metric=("test/mean_class_acc",), better="higher", kind=FRACTION),
    Field("group_acc", "video top-1 within each class group (group -> fraction)", "{group} %", "%", percent,
          seeds="groups", tasks=CLASSIFICATION, metric=("test/group_acc/",), default_view=True, kind=mapping(FRACTION)),
    Field("group_classes", "classes in each class group (group -> count): chance is 1 / count", seeds=None,
          tasks=CLASSIFICATION, kind=mapping(COUNT)),
    Field("stream_acc", "each stream's own test accuracy, of a multi-output model (stream -> video_top1, "
          "group_acc)", seeds="streams", tasks=CLASSIFICATION,
          kind=mapping(mapping(video_top1=FRACTION, group_acc=mapping(FRACTION)))),
    # What it costs.
    Field("params", "parameters", "params (M)", "M", millions, seeds="mean", default_view=True, kind=COUNT,
          needed_by=DONE_STATUSES),
    Field("gmacs_per_clip", "10^9 multiply-accumulates for one clip", "GMACs/clip", "GMACs", decimals(3),
          seeds="mean", kind=AMOUNT, needed_by=DONE_STATUSES),
    Field("gflops_per_clip", "2 x GMACs/clip", "GFLOPs/clip", "GFLOPs", decimals(3), row=False, seeds="derived",
          derive=lambda line: gflops(line.get("gmacs_per_clip"))),
    Field("gmacs_per_video", "GMACs/clip x eval views", "GMACs/video", "GMACs", decimals(3), seeds="mean",
          better="lower", default_view=True, kind=AMOUNT, needed_by=DONE_STATUSES),
    Field("gflops_per_video", "2 x GMACs/video", "GFLOPs/video", "GFLOPs", decimals(3), row=False, seeds="derived",
          derive=lambda line: gflops(line.get("gmacs_per_video"))),
    Field("stream_gmacs_per_clip", "each stream's GMACs per clip, of a multi-stream model (stream -> GMACs)",
          kind=mapping(AMOUNT)),
    Field("flow_ms_per_clip", "milliseconds computing one clip's optical flow (a cost the GMACs leave out)",
          "flow ms/clip", "ms", decimals(2), seeds="mean", timed=True, kind=AMOUNT),
    Field("infer_clips_per_s", "inference clips per second at the profile's batch size", "infer clips/s", "clips/s",
          decimals(1), seeds="mean", timed=True, better="higher", default_view=True, kind=AMOUNT),
    Field("latency_ms_p50", "median latency of one inference batch", "latency p50 ms", "ms", decimals(1),
          seeds="mean", timed=True, better="lower", kind=AMOUNT),
    Field("latency_ms_p95", "95th percentile latency of one inference batch", "latency p95 ms", "ms", decimals(1),
          seeds="mean", timed=True, kind=AMOUNT),
    Field("train_clips_per_s", "training clips per second of the model alone (synthetic clips)", "train clips/s",
          "clips/s", decimals(1), seeds="mean", timed=True, better="higher", kind=AMOUNT),
    Field("data_clips_per_s", "the training loader's clips per second in the fit's process", "loader clips/s",
          "clips/s", decimals(1), seeds="mean", timed=True, kind=AMOUNT),
    Field("memory_format", "the memory layout the fit trained in (chosen by timing)", "layout", timed=True, kind=TEXT),
    Field("peak_mem_mb", "peak memory inference adds to its weights and input: CUDA's max allocated on a GPU, the "
          "peak resident set's growth on a CPU (docs/flops.md)", "peak mem MB", "MB", decimals(0), seeds="mean",
          timed=True, better="lower", kind=NUMBER),
    Field("mfu", "model FLOPs utilisation: achieved / the machine's measured matmul peak", "MFU %", "%", percent,
          seeds="mean", timed=True, kind=FRACTION),
    Field("train_time_s", "seconds of the fit", "train s", "s", decimals(0), seeds="mean", timed=True, kind=AMOUNT),
    Field("train_threads", "torch threads during the fit", kind=COUNT),
    Field("skipped_videos", "unreadable videos (and annotation rows) the fit skipped, listed with why in the "
          "entry's skipped_videos.txt (none: not counted, a row of a profile-only entry or from before it was)",
          "skipped videos", format=decimals(0), kind=COUNT),
    # Where and with what it was measured.
    Field("device", "the device and, for a CPU, its threads", kind=TEXT),
    Field("dtype", "the compute dtype", kind=TEXT),
    Field("versions", "lit-video, torch, torchvision, lightning, CUDA and Python versions", kind=mapping(TEXT)),
    Field("git_sha", "the lit-video commit", kind=TEXT),
    Field("config_hash", "what decides the result, hashed (resume skips an entry whose hash has a done row)",
          seeds=None, kind=TEXT, needed_by=STATUSES),
    Field("status", "ok (trained and tested), profiled (cost only) or failed", "status", seeds="line",
          kind=one_of(*STATUSES), needed_by=STATUSES),
    Field("error", "why it failed", seeds="line", kind=TEXT, needed_by=("failed",)),
    # A leaderboard line's own bookkeeping.
    Field("config_hashes", "the rows behind the line, every status", row=False, seeds="line"),
    Field("failed_seeds", "seeds whose entry failed", row=False, seeds="line"),
    Field("within_noise_of", "the line ranked above, where the two 95 % intervals overlap", row=False,
          seeds="line"),
)
FIELD = {f.name: f for f in FIELDS}

ROW_FIELDS = tuple(f.name for f in FIELDS if f.row)
TIMED_FIELDS = tuple(f.name for f in FIELDS if f.timed)
KEY_FIELDS = tuple(f.name for f in FIELDS if f.seeds == "key")  # one leaderboard line per distinct key
ACCURACY_FIELDS = tuple(f.name for f in FIELDS if f.seeds == "accuracy")
MEAN_FIELDS = tuple(f.name for f in FIELDS if f.seeds == "mean")
LAST_FIELDS = tuple(f.name for f in FIELDS if f.seeds == "last")
DERIVED_FIELDS = tuple(f for f in FIELDS if f.seeds == "derived")
HEADERS = {f.name: f.header for f in FIELDS if f.header}
LINE_LABEL = ("rank", "variant")  # what names a leaderboard line in each of its tables


@dataclass(frozen=True)
class Column:
    """A column of the leaderboard tables: a field, or one class group's value of a per-group field (``group``)."""

    field: Field
    group: str | None = None

    @property
    def name(self) -> str:
        return self.field.name if self.group is None else f"{self.field.name}/{self.group}"

    @property
    def header(self) -> str:
        return str(self.field.header).format(group=self.group)

    @property
    def default_view(self) -> bool:
        return self.field.default_view

    def value(self, line: dict[str, Any]) -> Any:
        value = line.get(self.field.name)
        return value if self.group is None else (value or {}).get(self.group)


def columns(task: str, groups: Iterable[str] = ()) -> list[Column]:
    """The leaderboard tables' columns for ``task``, in order; a per-group field is a column per class group of
    ``groups``."""
    groups = tuple(groups)
    return [Column(f, g) for f in FIELDS if f.header and f.applies_to(task)
            for g in (groups if f.seeds == "groups" else (None,))]


def make_row(**values: Any) -> dict[str, Any]:
    """A results row with exactly ROW_FIELDS (missing ones None); unknown fields are a programming error."""
    unknown = set(values) - set(ROW_FIELDS)
    if unknown:
        raise KeyError(f"not results row fields: {sorted(unknown)}")
    return {name: values.get(name) for name in ROW_FIELDS}


def row_problems(row: Any) -> list[str]:
    """What is wrong with a results row, as the schema says (``Field.kind``, ``Field.needed_by``): [] for a good
    one. A field the row lacks is fine where its status does not need it (rows of older versions lack the newer
    fields); one the schema does not know is left alone (a newer version's)."""
    if not isinstance(row, dict):
        return ["not a JSON object"]
    status, task, problems = row.get("status"), task_of(row), []
    for f in FIELDS:
        value, every = (row.get(f.name) if f.row else None), f.needed_by == STATUSES
        if value is None and (every or status in f.needed_by) and f.applies_to(task):
            who = "every row" if every else f"{'an' if status == 'ok' else 'a'} {status} row"
            problems.append(f"{f.name} is missing: {who} needs it")
        elif value is not None and f.kind and (problem := f.kind(value)):
            problems.append(f.name + problem)
    return problems


def task_of(row: dict[str, Any]) -> str:
    return str(FIELD["task"].of(row))


def with_derived(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the derived fields (GFLOPs from GMACs) whose sources it holds."""
    derived = {f.name: f.derive(values) for f in DERIVED_FIELDS}
    return {**values, **{name: value for name, value in derived.items() if value is not None}}


def metric_fields(metrics: dict[str, float], task: str = FIELD["task"].default) -> dict[str, Any]:
    """The row fields of ``task`` that its test metrics give (``Field.metric``), and each stream's own accuracy
    (``stream_acc``: ``test/video_top1_<stream>``, ``test/group_acc_<stream>/<group>``)."""
    values: dict[str, Any] = {}
    for f in FIELDS:
        if not f.metric or not f.applies_to(task):
            continue
        if f.metric[0].endswith("/"):  # a mapping: the metric's name after the prefix is the key
            values[f.name] = {k.removeprefix(f.metric[0]): v for k, v in metrics.items()
                              if k.startswith(f.metric[0])} or None
        else:
            values[f.name] = next((metrics[m] for m in f.metric if m in metrics), None)
    streams = [k.removeprefix("test/video_top1_") for k in metrics if k.startswith("test/video_top1_")]
    values["stream_acc"] = {s: {"video_top1": metrics[f"test/video_top1_{s}"],
                                "group_acc": {k.removeprefix(f"test/group_acc_{s}/"): v for k, v in metrics.items()
                                              if k.startswith(f"test/group_acc_{s}/")} or None}
                            for s in streams} or None
    return values


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
