"""`storehub labels` as a manager runs it against a running demo: its six stale labels
listed, printed on the simulated Zebra (one PNG each), named SKUs on the TSC and an A4
sheet that downloads, and one-line refusals for an unknown printer, an empty roll and a
hub that does not answer.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from hub.cli import main
from hub.demo.store import demo_api_access
from tests.demo_support import Demo


def labels(demo: Demo, *args: str) -> int:
    return main(["labels", *args, "--dir", str(demo.directory)])


def test_a_manager_lists_and_prints_the_demos_stale_labels(tmp_path: Path, demos, capsys: pytest.CaptureFixture[str]):
    demo = demos(tmp_path / "demo")
    demo.start()
    demo.wait_ready()
    assert labels(demo) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("6 stale labels") and "MLK-001" in listed and "→" in listed, listed

    assert labels(demo, "print", "--printer", "labels-zpl-1") == 0
    printed = capsys.readouterr().out
    assert "printed 6 tags" in printed and "left in the queue: 0" in printed, printed
    assert len(list((demo.directory / "sim" / "labels-zpl-1").glob("*.png"))) == 6
    assert labels(demo) == 0 and "no stale labels" in capsys.readouterr().out

    assert labels(demo, "print", "--printer", "labels-tspl-1", "--sku", "MLK-001") == 0
    assert "printed 1 tag (shelf-58x40): MLK-001" in capsys.readouterr().out
    assert list((demo.directory / "sim" / "labels-tspl-1").glob("*.png"))

    assert labels(demo, "print", "--printer", "labels-a4-1", "--sku", "MLK-001", "--sku", "FRT-001") == 0
    sheet = capsys.readouterr().out
    link = next(line.split(": ", 1)[1] for line in sheet.splitlines() if line.startswith("download it"))
    access = demo_api_access(demo.directory, client="manager-1")
    assert access is not None
    api, token = access
    pdf = httpx.get(link, headers={"Authorization": f"Bearer {token}"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), (api, pdf.status_code)

    assert labels(demo, "journal", "--sku", "MLK-001") == 0
    journal = capsys.readouterr().out
    assert "labels-zpl-1" in journal and "labels-tspl-1" in journal and "labels-a4-1" in journal, journal

    assert labels(demo, "print", "--printer", "nope", "--sku", "MLK-001") == 1
    assert "no printer nope" in capsys.readouterr().err

    assert main(["sim", "labels-zpl-1", "paper_out", "--dir", str(demo.directory)]) == 0
    capsys.readouterr()
    assert labels(demo, "print", "--printer", "labels-zpl-1", "--sku", "MLK-001") == 1
    assert "out of labels" in capsys.readouterr().err


def test_a_hub_that_does_not_answer_is_one_line(capsys: pytest.CaptureFixture[str]):
    assert main(["labels", "--api", "http://127.0.0.1:1", "--token", "manager-1:x"]) == 1
    err = capsys.readouterr().err
    assert "does not answer" in err and "is it running" in err and err.count("\n") == 1, err
