"""Fidelity: every published figure of the registry against lit-video's count of the same network at the same
input (``lit-video report fidelity``), and the committed ``docs/fidelity.md`` against a fresh report."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit_video.models import model_info
from lit_video.models.published import EvalProtocol, Published
from lit_video.models.torchvision_video import ARCHITECTURES
from lit_video.report.cli import main
from lit_video.report.fidelity import AGREES, DOCUMENTED, FAILS, fidelity_rows, figure_rows, render

DOC = Path(__file__).parents[1] / "docs" / "fidelity.md"
COMMAND = "lit-video report fidelity --out docs/fidelity.md"


@pytest.fixture(scope="module")
def rows():
    return fidelity_rows()  # ~7 s: every figure counted on the meta device, the lecture nets for real


def test_every_published_figure_agrees_within_2_percent_or_says_why(rows):
    failing = [f"{r.model} {r.quantity}: published {r.published}, measured {r.measured}"
               for r in rows if r.verdict == FAILS]
    assert not failing
    costed = {r.model for r in rows if r.quantity == "GMACs"}
    assert set(ARCHITECTURES) | {"c3d", "i3d_r50", "i3d_r50_nl"} <= costed


def test_the_published_i3d_and_c3d_are_the_model_zoos_networks(rows):
    """The networks the issue found off: parameters exact, GMACs within 2 % at the model zoo's clip."""
    by = {(r.model, tuple(r.figure.model_args.items()), r.quantity): r for r in rows}
    assert by["i3d_r50", (), "params"].measured == 28_043_472
    assert by["i3d_r50_nl", (), "params"].measured == 35_397_840
    assert by["c3d", (("pool5_padding", True),), "params"].measured == 78_409_573
    for name in ("i3d_r50", "i3d_r50_nl"):
        assert by[name, (), "GMACs"].verdict == AGREES
    assert by["i3d_inception", (), "net.inception5b output_shape"].measured == [1024, 8, 7, 7]


def test_the_committed_report_is_what_the_registry_measures_now(rows):
    assert DOC.read_text() == render(rows, COMMAND), f"regenerate it: {COMMAND}"


def test_a_figure_off_by_more_than_2_percent_fails_unless_it_says_why(tmp_path):
    true = model_info("r3d_18").published[0]
    off = Published(source="a test", input=true.input, gmacs=true.gmacs * 1.05)
    assert [r.verdict for r in figure_rows("r3d_18", off)] == [FAILS]
    documented = Published(source="a test", input=true.input, gmacs=true.gmacs * 1.05, differs="a reason")
    assert [r.verdict for r in figure_rows("r3d_18", documented)] == [DOCUMENTED]
    shape = Published(source="a test", input="3x8x112x112", layers={"net.layer4": {"output_shape": [512, 2, 7, 7]}})
    assert [r.verdict for r in figure_rows("r3d_18", shape)] == [FAILS]  # torchvision's R3D: 1 x 7 x 7 at 8 frames
    with pytest.raises(ValueError, match="'layer9' is not a module of the network"):
        figure_rows("r3d_18", Published(source="a test", input=true.input, layers={"layer9": {"gmacs": 1.0}}))


def test_report_fidelity_writes_the_markdown(rows, tmp_path, capsys, monkeypatch):
    import lit_video.report.fidelity

    monkeypatch.setattr(lit_video.report.fidelity, "fidelity_rows", lambda: rows)  # counted once, by the fixture
    out = tmp_path / "fidelity.md"
    assert main(["fidelity", "--out", str(out)]) == 0
    assert "0 failing" in capsys.readouterr().out
    text = out.read_text()
    assert "| params | 28,043,472 | 28,043,472 | +0.00% | agrees |" in text and "## Models with no published" in text
    # Without --out the Markdown goes to stdout, its summary to stderr, and no file is written (docs/ least of all).
    monkeypatch.chdir(tmp_path)
    assert main(["fidelity"]) == 0
    printed = capsys.readouterr()
    assert printed.out == text.replace(f" --out {out}", "") and "0 failing" in printed.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fidelity.md"]


def test_an_accuracy_carries_its_protocol_and_says_when_its_clip_is_not_the_costs():
    with pytest.raises(ValueError, match="evaluation protocol"):
        Published(source="a test", input="3x16x224x224", dataset="Kinetics-400", top1=70.0)
    s3d = model_info("s3d").published[0]
    assert s3d.protocol == EvalProtocol(frames=128, clips=1, crops=1, size=224, fps=15.0)
    assert "not the 16-frame clip the GMACs are for" in s3d.accuracy()
    assert "not the" not in model_info("r3d_18").published[0].accuracy()  # 5 clips of 16 frames: the cost's clip
