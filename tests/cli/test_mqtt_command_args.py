"""openbms mqtt command: a SITE, NAME or --prefix that cannot be a topic's levels is one line naming
the argument, before anything is sent (it was a ValueError traceback from the MQTT library, or a
wait for an answer that could never come)."""

from __future__ import annotations

import pytest
from tests.fixtures.services import MosquittoBroker
from typer.testing import CliRunner

from openbms.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(("args", "expected"), [
    (["hq", "#"], "NAME '#': "),
    (["hq", "wri+te"], "NAME 'wri+te': "),
    (["hq", "a/b"], "NAME 'a/b': "),
    (["hq", ""], "NAME '': "),
    (["h#q", "read"], "SITE 'h#q': "),
    (["hq/lab", "read"], "SITE 'hq/lab': "),
    (["hq", "read", "--prefix", "acme/#"], "--prefix 'acme/#': "),
    (["hq", "read", "--prefix", "acme/"], "--prefix 'acme/': "),
])
def test_a_site_name_or_prefix_that_is_not_topic_levels_is_one_line(mosquitto: MosquittoBroker,
                                                                      args: list[str], expected: str):
    result = runner.invoke(app, ["mqtt", "command", *args, "-b", f"127.0.0.1:{mosquitto.port}",
                                 "--timeout", "2"], env={"OPENBMS_TOKEN": "obms_x", "COLUMNS": "200"})
    assert result.exit_code == 1, (result.output, result.exception)
    assert not isinstance(result.exception, ValueError), result.exception
    text = [line for line in result.output.splitlines() if line.strip()]
    assert len(text) == 1 and expected in text[0], result.output
