"""``consumer dlq``: bad input is one line on stderr and exit status 2, before any I/O."""

from __future__ import annotations

import pytest

from consumer.cli import main


@pytest.mark.parametrize(("argv", "said"), [
    (["replay", "--topic", "t.dlq", "--since", "last tuesday"], "neither ISO-8601 nor epoch"),
    (["replay", "--topic", "t.dlq", "--since", "2026-11-22", "--until", "2026-11-21"],
     "--since must be before --until"),
    (["replay", "--topic", "t.dlq", "--to", "t.dlq"], "would loop"),
    (["replay", "--topic", "t.dlq", "--rate", "0"], "above 0"),
    (["replay", "--topic", "t.dlq", "--max-replays", "-1"], "at least 1"),
    (["inspect", "--topic", "t.dlq", "--limit", "0"], "at least 1"),
    (["inspect", "--topic", "t.dlq", "--category", "fatal"], "invalid choice"),
    (["inspect"], "--topic"),
])
def test_bad_usage_is_one_line_and_exit_2(argv, said, capsys):
    with pytest.raises(SystemExit) as exited:
        exit_code = main(["dlq", *argv, "--bootstrap", "127.0.0.1:1"])
        raise SystemExit(exit_code)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert said in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_only_connection_settings_pass_through_x(capsys):
    assert main(["dlq", "inspect", "--topic", "t.dlq", "-X", "group.id=mine",
                 "--bootstrap", "127.0.0.1:1"]) == 2
    assert "only connection settings" in capsys.readouterr().err
