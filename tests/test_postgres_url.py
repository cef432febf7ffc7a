"""postgresql:// URLs read into pg8000's connection arguments as libpq reads them (the server
itself is in tests/test_postgres_store.py)."""

from __future__ import annotations

import ssl

import pytest

from embeddings.store.postgres_url import BadURL, connection_arguments
from embeddings.urls import masked_url as mask


def test_a_host_a_port_a_database_and_a_password_are_read_from_the_url():
    arguments = connection_arguments("postgresql://qa:s%40cret@db.example.com:6543/team")
    assert arguments["user"] == "qa" and arguments["password"] == "s@cret"
    assert arguments["host"] == "db.example.com" and arguments["port"] == 6543
    assert arguments["database"] == "team" and "unix_sock" not in arguments
    assert arguments["timeout"] == 10.0  # qa's default connect timeout


def test_the_readme_forms_all_read():
    local = connection_arguments("postgresql://qa:secret@localhost/qa")
    assert (local["host"], local["port"], local["database"]) == ("localhost", 5432, "qa")
    docker = connection_arguments("postgres://postgres:secret@localhost:5432/postgres")
    assert (docker["user"], docker["database"]) == ("postgres", "postgres")
    managed = connection_arguments("postgresql://qa:secret@db.example.com:5432/qa?sslmode=require")
    context = managed["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_NONE


def test_a_socket_folder_in_the_query_or_percent_encoded_in_the_authority_is_a_unix_socket():
    given = connection_arguments("postgresql://postgres:@/qa_db?host=/tmp/qa-pg/data")
    assert given["unix_sock"] == "/tmp/qa-pg/data/.s.PGSQL.5432"
    assert given["password"] is None and given["ssl_context"] is False
    assert given["database"] == "qa_db" and "host" not in given
    encoded = connection_arguments("postgresql://qa@%2Fvar%2FRun%2Fpg:5433/qa")
    assert encoded["unix_sock"] == "/var/Run/pg/.s.PGSQL.5433"  # case kept: it is a path


def test_no_host_looks_for_the_socket_in_the_usual_folders(tmp_path, monkeypatch):
    from embeddings.store import postgres_url

    (tmp_path / ".s.PGSQL.5432").touch()
    monkeypatch.setattr(postgres_url, "SOCKET_FOLDERS", ("/nonexistent-qa", str(tmp_path)))
    arguments = connection_arguments("postgresql:///qa")
    assert arguments["unix_sock"] == str(tmp_path / ".s.PGSQL.5432")
    assert arguments["database"] == "qa" and arguments["user"]  # the OS user, as libpq
    monkeypatch.setattr(postgres_url, "SOCKET_FOLDERS", ("/nonexistent-qa",))
    with pytest.raises(BadURL, match="give a host"):
        connection_arguments("postgresql:///qa")


def test_query_parameters_override_the_authority():
    arguments = connection_arguments(
        "postgresql://a@h1:1/d1?user=b&password=p&dbname=d2&port=7&connect_timeout=0"
        "&application_name=qa-test&options=-c%20statement_timeout%3D5000"
    )
    assert (arguments["user"], arguments["password"], arguments["database"]) == ("b", "p", "d2")
    assert arguments["port"] == 7 and arguments["timeout"] is None  # 0: wait for ever
    assert arguments["application_name"] == "qa-test"
    assert arguments["startup_params"] == {"options": "-c statement_timeout=5000"}
    assert connection_arguments("postgresql://h/d?connect_timeout=1")["timeout"] == 2.0


@pytest.mark.parametrize(
    ("mode", "verified", "hostname"),
    [("verify-ca", True, False), ("verify-full", True, True)],
)
def test_verifying_ssl_modes_check_the_certificate(mode, verified, hostname):
    context = connection_arguments(f"postgresql://h/d?sslmode={mode}")["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert (context.verify_mode == ssl.CERT_REQUIRED) == verified
    assert context.check_hostname == hostname
    assert connection_arguments("postgresql://h/d?sslmode=disable")["ssl_context"] is False
    assert connection_arguments("postgresql://h/d")["ssl_context"] is None  # prefer


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://h/d", "scheme"),
        ("postgresql://h/d?sslcert=/x.pem", "sslcert"),
        ("postgresql://h1,h2/d", "one host"),
        ("postgresql://h:five/d", "not a number"),
        ("postgresql://h/d?sslmode=sometimes", "sslmode"),
        ("postgresql://h/d?connect_timeout=soon", "connect_timeout"),
        ("postgresql://h/d?sslmode=verify-full&sslrootcert=/nonexistent/root.crt", "sslrootcert"),
    ],
)
def test_a_url_qa_cannot_use_says_why(url, reason):
    with pytest.raises(BadURL, match=reason):
        connection_arguments(url)


def test_the_password_is_masked_in_the_authority_and_the_query():
    assert mask("postgresql://qa:s3cret@db/qa") == "postgresql://qa:***@db/qa"
    assert mask("postgresql://db/qa?sslmode=require&password=s3cret&x=1") == (
        "postgresql://db/qa?sslmode=require&password=***&x=1"
    )
    assert mask("postgresql://postgres:@/qa?host=/tmp") == "postgresql://postgres:@/qa?host=/tmp"
