"""``consumer demo``'s command line: bad input is one line on stderr and exit 2, before any
service is touched."""

from __future__ import annotations

import pytest

from consumer import cli, demo
from consumer.errors import UsageError


@pytest.mark.parametrize("argv, complaint", [
    (["demo", "--orders", "5"], "--orders: expected a whole number from 10"),
    (["demo", "--orders", "lots"], "--orders: expected a whole number from 10"),
    (["demo", "--metrics-port", "70000"], "--metrics-port: expected a port from 1 to 65535"),
])
def test_bad_input_is_one_line_and_exit_2(argv, complaint, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert complaint in err
    assert len(err.strip().splitlines()) == 1


def test_help_names_what_the_demo_does(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--orders" in out and "--json" in out and "consumer dev down" in out


def test_an_installed_package_without_the_checkout_is_told_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "__file__", str(tmp_path / "site-packages" / "consumer" / "demo.py"))
    with pytest.raises(UsageError, match="needs the schemas/ and examples/ folders of a source "
                                         "checkout"):
        demo.source_root()
