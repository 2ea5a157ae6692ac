"""Secrets of URLs stay out of what is printed or stored: errors, logs, run events."""

import asyncio
import logging
import traceback

import dagster as dg
import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform.defs.access.assets import access_roles
from bitso_platform.defs.ticker.sensors import spread_alerts
from bitso_platform.redaction import redact_url, scrub
from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.records import SpreadRecord
from bitso_platform.ticker.store import ObservationStore, ObservationWriter

SECRET = "pw-Hush-0a1b2c3d"
BAD_WAREHOUSE_URLS = {
    "misspelled scheme": f"postgresl://bitso:{SECRET}@127.0.0.1:5432/warehouse",
    "nothing listening": f"postgresql://bitso:{SECRET}@127.0.0.1:1/warehouse",
    "key=value conninfo": f"host=127.0.0.1 password={SECRET} port=notaport",
}


@pytest.mark.parametrize(
    ("url", "printable"),
    [
        ("https://hooks.slack.com/services/T1/B2/abc", "https://hooks.slack.com/***"),
        (
            "postgresql://bitso:p%40ss@postgres:5432/warehouse",
            "postgresql://bitso:***@postgres:5432/warehouse",
        ),
        ("host=pg password=abc dbname=w", "host=pg password=*** dbname=w"),
        ("postgresql://postgres@127.0.0.1:5432/x", "postgresql://postgres@127.0.0.1:5432/x"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/"),
    ],
)
def test_a_url_is_printed_with_its_password_or_webhook_path_replaced(
    url: str, printable: str
) -> None:
    assert redact_url(url) == printable


def test_text_quoting_a_url_or_its_decoded_password_is_scrubbed() -> None:
    url = "postgresql://bitso:p%40ss@h/w"
    text = f'missing "=" after "{url}"; password p@ss'

    assert scrub(text, url) == 'missing "=" after "postgresql://bitso:***@h/w"; password ***'


@pytest.mark.parametrize("case", sorted(BAD_WAREHOUSE_URLS))
def test_a_run_on_a_bad_warehouse_url_keeps_its_password_out_of_events_and_logs(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    instance = dg.DagsterInstance.ephemeral()
    warehouse = Warehouse(url=BAD_WAREHOUSE_URLS[case])

    result = dg.materialize(
        [access_roles], resources={"warehouse": warehouse}, instance=instance, raise_on_error=False
    )

    assert not result.success
    events = "\n".join(repr(entry) for entry in instance.all_logs(result.run_id))
    run = repr(instance.get_run_by_id(result.run_id))
    assert "psycopg" in events, "the failure is still reported"
    for text in (events, run, caplog.text):
        assert SECRET not in text


@pytest.mark.parametrize("case", sorted(BAD_WAREHOUSE_URLS))
def test_bitso_access_apply_on_a_bad_warehouse_url_prints_no_password(case: str) -> None:
    result = CliRunner().invoke(
        main, ["access", "apply"], env={"BITSO_WAREHOUSE_URL": BAD_WAREHOUSE_URLS[case]}
    )

    # Refused as a setting (2) or unreachable (1): either way named, never with its password.
    assert result.exit_code in (1, 2)
    assert "BITSO_WAREHOUSE_URL" in result.output
    assert SECRET not in result.output


@pytest.mark.parametrize("case", sorted(BAD_WAREHOUSE_URLS))
def test_the_alert_sensor_on_a_bad_warehouse_url_fails_its_tick_without_the_password(
    case: str,
) -> None:
    resources = {"warehouse": Warehouse(url=BAD_WAREHOUSE_URLS[case]), "alerts": SpreadAlerts()}
    with (
        dg.build_sensor_context(resources=resources) as context,
        pytest.raises(Exception) as failure,
    ):
        spread_alerts(context)

    assert SECRET not in "".join(traceback.format_exception(failure.value))


@pytest.mark.parametrize("case", sorted(BAD_WAREHOUSE_URLS))
def test_the_samplers_writer_on_a_bad_warehouse_url_logs_no_password(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    writer = ObservationWriter(ObservationStore(BAD_WAREHOUSE_URLS[case], connect_timeout=1))
    writer.submit([SpreadRecord.gap(1_721_169_000, "btc_mxn")])

    with caplog.at_level(logging.DEBUG):
        written = asyncio.run(writer._flush())
        writer.store.close()

    assert written is False and writer.failures == 1
    assert "cannot write 1 spread records" in caplog.text
    assert SECRET not in caplog.text
