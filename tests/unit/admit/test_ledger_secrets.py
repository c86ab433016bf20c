"""The ledger's password never shows: every form it can be written in, and every error."""

from __future__ import annotations

import re

import pytest

from bringup.admit.ledger import Ledger, LedgerError, redact_url
from bringup.errors import BringupError
from tests.unit.admit.ledgers import PostgresServer


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # URL user part
        ("postgresql://u:s3cret@h:5/db", "postgresql://u:***@h:5/db"),
        ("postgresql://u:p%40ss@h:5/db", "postgresql://u:***@h:5/db"),
        ("postgres://:s3cret@h/db", "postgres://:***@h/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),  # an unescaped "@"
        ("postgresql://u:a/b@h/db", "postgresql://u:***@h/db"),  # an unescaped "/"
        ("postgresql://u:s3cret@[::1/db", "postgresql://u:***@[::1/db"),  # a broken IPv6 host
        ("postgresql://u:s3cret@h1:5,[::1]:6/db", "postgresql://u:***@h1:5,[::1]:6/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://h:5432/db", "postgresql://h:5432/db"),
        # query parameters
        (
            "postgresql://h/db?sslmode=require&password=x",
            "postgresql://h/db?sslmode=require&password=***",
        ),
        ("postgresql://h/db?password=s3cret&user=u", "postgresql://h/db?password=***&user=u"),
        (
            "postgresql://h/db?sslmode=verify-full&sslpassword=k%20ey",
            "postgresql://h/db?sslmode=verify-full&sslpassword=***",
        ),
        ("postgresql://h/db?PASSWORD=s3cret", "postgresql://h/db?PASSWORD=***"),
        (
            "postgresql://u:a@h/db?password=b&sslpassword=c",
            "postgresql://u:***@h/db?password=***&sslpassword=***",
        ),
        # libpq conninfo keywords, quoted or not
        ("host=db password=s3cret dbname=ledger", "host=db password=*** dbname=ledger"),
        ("host=db password = s3cret dbname=ledger", "host=db password = *** dbname=ledger"),
        ("password='a b c' host=db", "password=*** host=db"),
        (r"password='it\'s \\ here' host=db", "password=*** host=db"),
        (r"password=a\ b host=db", "password=*** host=db"),
        ("host=db sslpassword='k ey' sslmode=require", "host=db sslpassword=*** sslmode=require"),
        ("host=db password='never closed", "host=db password=***"),
        ("host=db user=u", "host=db user=u"),
        # messages that quote one
        (
            'missing "]" in URI: "postgresql://u:s3cret@[::1/db"',
            'missing "]" in URI: "postgresql://u:***@[::1/db"',
        ),
        # an unquoted value runs to the next space, a double quote included: masked too much
        ('bad conninfo "host=h password=s3cret"', 'bad conninfo "host=h password=***'),
        (
            'password authentication failed for user "u"',
            'password authentication failed for user "u"',
        ),
    ],
)
def test_redact_url_masks_every_form(text: str, shown: str) -> None:
    assert redact_url(text) == shown


@pytest.mark.parametrize(
    ("message", "url", "shown"),
    [
        ('invalid token: "s3cret"', "postgresql://u:s3cret@h/db", 'invalid token: "***"'),
        ('token: "p%zz"', "postgresql://u:p%zz@h/db", 'token: "***"'),
        ("saw p@ss", "postgresql://u:p%40ss@h/db", "saw ***"),  # decoded
        ("saw k ey", "postgresql://h/db?sslpassword=k%20ey", "saw ***"),
        ("saw it's", r"host=h password='it\'s'", "saw ***"),
        ("no secret here", "postgresql://u@h/db", "no secret here"),
        # a short password is masked where it stands alone, not inside other words
        ("postgresql said p", "postgresql://u:p@h/db", "postgresql said ***"),
    ],
)
def test_redact_url_masks_the_urls_passwords_anywhere_in_a_message(
    message: str, url: str, shown: str
) -> None:
    assert redact_url(message, url) == shown


def test_a_password_quoted_twice_is_masked_twice() -> None:
    text = "postgresql://u:s3cret@h/db failed, s3cret refused"
    assert redact_url(text) == "postgresql://u:***@h/db failed, *** refused"


def test_ledger_error_is_a_bringup_error() -> None:
    assert issubclass(LedgerError, BringupError)


def _refusal(url: str) -> list[str]:
    with pytest.raises(LedgerError) as error:
        Ledger.open(url)
    assert error.value.__cause__ is None  # no driver's error, and its text, chained to it
    assert error.value.__context__ is None or error.value.__suppress_context__
    return error.value.lines()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql://u:hunter2@db/x", r"ledger URL mysql://u:\*\*\*@db/x: scheme 'mysql' is not"),
        ("host=db password=hunter2", r"ledger URL host=db password=\*\*\*: not a URL"),
        (
            "postgresql://u:hunter2@[::1/db",
            r"cannot open ledger postgresql://u:\*\*\*@\[::1/db: .*IPv6",
        ),
        (
            "postgresql://bringup:hunter2@127.0.0.1:1/ledger?password=hunter3&sslpassword=hunter4",
            r"cannot open ledger .*bringup:\*\*\*@127.*password=\*\*\*&sslpassword=\*\*\*: .*1",
        ),
        ("postgresql://u:hunter2%zz@127.0.0.1:1/db", r"cannot open ledger .*: invalid percent"),
    ],
)
def test_a_refused_ledger_url_is_one_line_without_its_password(url: str, shown: str) -> None:
    lines = _refusal(url)
    assert len(lines) == 1, lines
    assert re.match(shown, lines[0]), lines[0]
    for secret in ("hunter2", "hunter3", "hunter4"):
        assert secret not in lines[0]


@pytest.mark.root
def test_an_error_on_an_open_ledger_never_shows_the_password(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database().replace("postgres@", "postgres:hunter2@")
    url += "&sslpassword=hunter3"  # trust authentication: the server ignores both
    with Ledger.open(url) as ledger, pytest.raises(LedgerError) as error:
        ledger.finish_run("no-such-run")
    (line,) = error.value.lines()
    assert "postgres:***@" in line
    assert "sslpassword=***" in line
    assert "hunter" not in line
