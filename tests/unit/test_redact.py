import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cot_proxy import redact as redact_module
from cot_proxy.redact import RedactingFilter
from cot_proxy.redact import redact


@pytest.mark.parametrize(
    "text, secret",
    [
        ("Authorization: Bearer sk-abcdef1234567890", "abcdef1234567890"),
        ("headers {'authorization': 'Bearer tok.en-1'}", "tok.en-1"),
        ('{"x-api-key": "k3y-value"}', "k3y-value"),
        ("api-key=plainsecret", "plainsecret"),
        ("got bearer abc.def.ghi from client", "abc.def.ghi"),
        ("Proxy-Authorization: Basic dXNlcjpwdw==", "dXNlcjpwdw=="),
        ("key sk-proj-AAAAAAAAAAAAAAAA in body", "AAAAAAAAAAAAAAAA"),
        ("GET /v1beta/models?key=AIzaSyQUERYSECRET 200", "AIzaSyQUERYSECRET"),
        ("POST /openai/deployments/x/chat/completions?api-version=1&api-key=AZQ123 200", "AZQ123"),
        ("GET /v1/models?limit=5&access_token=tok987 200", "tok987"),
    ],
)
def test_redact_removes_secret(text, secret):
    assert secret not in redact(text)


def test_redact_leaves_ordinary_text():
    text = "POST /v1/chat/completions?api-version=2024-10-21&limit=5 model=qwen3 200 12ms think: 40 chars removed"
    assert redact(text) == text


def test_filter_rewrites_formatted_message():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "auth %s", ("Bearer s3cr3t",), None)
    assert RedactingFilter().filter(record)
    assert "s3cr3t" not in record.getMessage()


def redact_slowly(text: str) -> str:
    """The four patterns without the quick check (what redact did before it)."""
    text = redact_module._HEADER_VALUE.sub(lambda m: f"{m['name']}{m['sep']}***", text)
    text = redact_module._BEARER.sub(lambda m: f"{m['scheme']} ***", text)
    text = redact_module._QUERY_SECRET.sub(lambda m: f"{m['name']}***", text)
    return redact_module._OPENAI_KEY.sub("sk-***", text)


pieces = st.sampled_from(
    [
        "Authorization",
        "AUTHORIZATION: ",
        "x-api-key=",
        "Api-Key: ",
        "bearer ",
        "BASIC ",
        "sk-",
        "SK-",
        "?key=",
        "&token=",
        "&sig=",
        "abcdefgh12345",
        " ",
        ":",
        "'",
        '"',
        "=",
        "ſ",
        "ı",
        "\u212a",
        "İ",
        "é",
        "model=qwen3 200 12ms",
        "format=chat",
    ]
)


@given(st.lists(pieces, max_size=12))
def test_the_quick_check_never_skips_what_the_patterns_would_mask(parts: list[str]) -> None:
    text = "".join(parts)
    assert redact(text) == redact_slowly(text)


@pytest.mark.parametrize(
    "text", ["AUTHORİZATİON: Bearer secret123", "baſic dXNlcjpwdw==", "x-api-\u212aey: k3y"]
)
def test_unicode_case_variants_still_go_through_the_patterns(text: str) -> None:
    assert redact(text) == redact_slowly(text)
