"""Progress in logs: a few plain lines where stderr is not a terminal (a file, a pipe, CI), never
carriage-return frames; one line per section of the demo."""

import torch

import ppgen.demo as demo
from ppgen import PPCA, fit
from ppgen.progress import LOG_LINES, PlainProgress, progress_bar


def test_a_run_in_a_log_prints_a_few_plain_lines(capsys):
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    fit(PPCA(3, 1), x, steps=200, batch_size=None, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert "\r" not in "".join(lines)
    mine = [line for line in lines if line.startswith("trace:")]
    assert mine[0] == "trace: 200 steps" and mine[-1].startswith("trace: done, step 200/200, loss")
    assert [line.split(",")[0] for line in mine[1:-1]] == [
        "trace: step 50/200", "trace: step 100/200", "trace: step 150/200"
    ]  # fmt: skip
    assert len(mine) == LOG_LINES + 1


def test_updates_of_several_steps_report_each_quarter_once(capsys):
    """Marks at steps 2, 5 and 8 of 10; a 2-step update that passes one reports where it lands."""
    bar = PlainProgress(10, desc="run")
    for _ in range(5):
        bar.update(2)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "run: 10 steps"
    assert [line.split(",")[0] for line in lines[1:-1]] == [
        "run: step 2/10", "run: step 6/10", "run: step 8/10"
    ]  # fmt: skip


def test_a_resumed_run_says_where_it_starts_and_quiet_shows_nothing(capsys):
    PlainProgress(100, initial=40, desc="run").close()
    assert capsys.readouterr().err.splitlines()[0] == "run: 100 steps, resumed at step 40"
    quiet = progress_bar(100, 40, "run", shown=False)
    quiet.update(10)
    quiet.close()
    assert quiet.n == 50 and capsys.readouterr().err == ""


def test_the_demo_announces_each_section(tmp_path, monkeypatch, capsys):
    def first(run_dir, quick, progress):
        """The first section."""
        return "one"

    def second(run_dir, quick, progress):
        """The second section, in a line of its own."""
        return "two"

    monkeypatch.setattr(demo, "SECTIONS", [first, second])
    run_dir = demo.run_demo(out=tmp_path / "demo", quick=True)
    assert capsys.readouterr().err.splitlines() == [
        "[1/2] The first section.",
        "[2/2] The second section, in a line of its own.",
    ]
    assert (run_dir / "report.md").read_text().endswith("one\ntwo")
