"""Unit tests: the .eml file store, settings parsing and the text linkifier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailsink.settings import Settings, SettingsError
from mailsink.store import MESSAGE_ID_RE, MailStore, MessageNotFound, is_valid_message_id
from mailsink.web import linkify

POLISH_MAIL = (
    b"From: =?utf-8?q?Zesp=C3=B3=C5=82?= <a@example.com>\r\n"
    b"To: b@example.com\r\n"
    b"Subject: =?utf-8?b?UmVzZXRvd2FuaWUgaGFzxYJhIOKAkyBpS3NpxJlnb3dvxZvEhzI0?=\r\n"
    b"Content-Type: text/plain; charset=iso-8859-2\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Za=BF=F3=B3=E6 g=EA=B6l=B1 ja=BC=F1\r\n"
)


def test_save_writes_named_eml_and_lists_newest_first(tmp_path: Path):
    store = MailStore(tmp_path / "does" / "not" / "exist" / "yet")
    first = store.save(b"Subject: 1\r\n\r\none\r\n", "a@example.com", ["b@example.com"])
    second = store.save(b"Subject: 2\r\n\r\ntwo\r\n", "a@example.com", ["b@example.com"])

    assert is_valid_message_id(first) and is_valid_message_id(second)
    assert sorted(p.name for p in store.directory.iterdir()) == [f"{first}.eml", f"{second}.eml"]
    assert store.ids() == [second, first]
    assert [m.subject for m in store.list_messages()] == ["2", "1"]


def test_parse_decodes_polish_headers_and_legacy_charset(tmp_path: Path):
    store = MailStore(tmp_path)
    message = store.get(store.save(POLISH_MAIL, "a@example.com", ["b@example.com"]))

    assert message.subject == "Resetowanie hasła – iKsięgowość24"
    assert message.sender == "Zespół <a@example.com>"
    assert message.text == "Zażółć gęślą jaźń\n"
    assert message.html is None
    assert message.envelope_from == "a@example.com"
    assert message.envelope_to == ("b@example.com",)


def test_undeclared_charset_utf8_body_keeps_polish_letters(tmp_path: Path):
    store = MailStore(tmp_path)
    raw = "Subject: x\r\nContent-Type: text/plain\r\n\r\nŻółw idzie\r\n".encode()
    assert store.get(store.save(raw)).text == "Żółw idzie\n"


def test_ignores_temp_and_foreign_files(tmp_path: Path):
    store = MailStore(tmp_path)
    kept = store.save(b"Subject: x\r\n\r\n")
    foreign = [".incoming-abc.tmp", "notes.eml", "20261399T000000000000-" + "a" * 32 + ".eml"]
    for name in foreign:
        (tmp_path / name).write_bytes(b"Subject: not ours\r\n\r\n")

    assert store.ids() == [kept]
    assert [m.id for m in store.list_messages()] == [kept]
    assert store.clear() == 1
    assert sorted(os.listdir(tmp_path)) == sorted(foreign)


def test_missing_directory_lists_nothing(tmp_path: Path):
    assert MailStore(tmp_path / "absent").list_messages() == []


@pytest.mark.parametrize("bad_id", ["../secret", "..", "", "a/b", "/etc/passwd",
                                    "20260101T000000000000-" + "0" * 32 + "\n",
                                    "20260101T000000000000-" + "A" * 32])
def test_invalid_ids_are_rejected_before_touching_disk(tmp_path: Path, bad_id: str):
    # A real .eml next to an existing mail dir: without the id check "../secret" would read it.
    (tmp_path / "secret.eml").write_bytes(b"secret")
    store = MailStore(tmp_path / "mail")
    store.directory.mkdir()
    with pytest.raises(MessageNotFound):
        store.raw(bad_id)


@given(st.from_regex(MESSAGE_ID_RE) | st.text(alphabet="./\\%-T0123456789abcdef\n", max_size=60))
def test_valid_ids_can_never_leave_the_directory(candidate: str):
    if is_valid_message_id(candidate):
        assert len(candidate) == 54 and candidate[8] == "T" and candidate[21] == "-"
        assert not any(part in candidate for part in ("/", "\\", "..", "%", "\n"))


def test_linkify_escapes_text_and_links_only_http_urls():
    text = '<b>Go</b> to https://x.test/a?b=1&c="2" now. javascript:alert(1) (http://y.test/p).'
    rendered = str(linkify(text))

    attributes = 'target="_blank" rel="noopener noreferrer"'
    assert rendered.startswith("&lt;b&gt;Go&lt;/b&gt; to ")
    assert f'<a href="https://x.test/a?b=1&amp;c=" {attributes}>' in rendered
    assert f'<a href="http://y.test/p" {attributes}>http://y.test/p</a>).' in rendered
    assert "javascript:alert(1)" in rendered and 'href="javascript' not in rendered


def test_settings_defaults_and_overrides():
    assert Settings.from_env({}) == Settings("127.0.0.1", 1025, 8025, Path("var/mail"))
    env = {"MAILSINK_HOST": "0.0.0.0", "MAILSINK_SMTP_PORT": "2525",
           "MAILSINK_WEB_PORT": " 9025 ", "MAILSINK_DIR": "/tmp/sink"}
    assert Settings.from_env(env) == Settings("0.0.0.0", 2525, 9025, Path("/tmp/sink"))


@pytest.mark.parametrize(
    "name, value",
    [("MAILSINK_SMTP_PORT", "abc"), ("MAILSINK_WEB_PORT", "80.5"),
     ("MAILSINK_SMTP_PORT", "0"), ("MAILSINK_WEB_PORT", "70000")],
)
def test_settings_reject_bad_ports_naming_the_variable(name: str, value: str):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
