import pytest

from cot_proxy.routing import parse_target


@pytest.mark.parametrize(
    "base, client_path, expected",
    [
        ("http://h:8080/v1/", "/v1/chat/completions", "/v1/chat/completions"),
        ("http://h:8080/v1", "/v1/chat/completions", "/v1/chat/completions"),
        ("http://h:8080/", "/v1/chat/completions", "/v1/chat/completions"),
        ("http://h:8080", "/v1/chat/completions", "/v1/chat/completions"),
        ("http://h/x/v1/", "/chat/completions", "/x/v1/chat/completions"),
        ("http://h/x/v1/", "/v1/chat/completions", "/x/v1/chat/completions"),
        ("http://h/x/v1/", "/v1", "/x/v1"),
        ("http://h/v1/", "/v1/models?limit=2&x=%2F", "/v1/models?limit=2&x=%2F"),
        ("http://h/v1/", "/chat/completions?a=1", "/v1/chat/completions?a=1"),
        ("http://h/v1/", "/v10/x", "/v1/v10/x"),
        ("http://h/api/", "/v1/chat/completions", "/api/v1/chat/completions"),
        ("http://h/v1/", "*", "/v1/"),
        # Ollama: its native API beside /v1, at the target's root
        ("http://h:11434/v1", "/api/chat", "/api/chat"),
        ("http://h:11434/v1/", "/api/tags?x=1", "/api/tags?x=1"),
        ("http://h:11434/", "/api/generate", "/api/generate"),
        ("http://h:11434/api/", "/api/chat", "/api/chat"),
        ("http://h/ollama/v1", "/api/chat", "/ollama/api/chat"),
        ("http://h/ollama/", "/api/chat", "/ollama/api/chat"),
        ("http://h/v1", "/api", "/api"),
        ("http://h/v1", "/apis/x", "/v1/apis/x"),
    ],
)
def test_upstream_path(base, client_path, expected):
    assert parse_target(base).upstream_path(client_path) == expected


@pytest.mark.parametrize(
    "url, scheme, host, port, origin",
    [
        ("http://localhost:8000/v1", "http", "localhost", 8000, "http://localhost:8000"),
        ("https://api.openai.com/v1/", "https", "api.openai.com", 443, "https://api.openai.com"),
        ("HTTP://Example.com", "http", "example.com", 80, "http://example.com"),
        ("http://[::1]:9000/", "http", "::1", 9000, "http://[::1]:9000"),
        ("  http://127.0.0.1:1/v1  ", "http", "127.0.0.1", 1, "http://127.0.0.1:1"),
    ],
)
def test_parse_target(url, scheme, host, port, origin):
    t = parse_target(url)
    assert (t.scheme, t.host, t.port, t.origin) == (scheme, host, port, origin)


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "is empty"),
        ("localhost:8000/v1", "must start with http:// or https://"),
        ("ftp://h/", "must start with http:// or https://"),
        ("http://:80/", "no host"),
        ("http://h:99999/", "invalid port"),
        ("http://h:abc/", "invalid port"),
        ("http://h:0/", "invalid port"),
        ("http://user:pw@h/", "credentials"),
        ("http://h/v1?x=1", "query string"),
        ("http://h/a/../v1", "unusual path"),
    ],
)
def test_parse_target_err(url, message):
    with pytest.raises(ValueError, match=message):
        parse_target(url)


@pytest.mark.parametrize(
    ("url", "base", "ending"),
    [
        ("http://h:8000/v1/chat/completions", "http://h:8000/v1", "/chat/completions"),
        ("http://h:8000/v1/completions/", "http://h:8000/v1", "/completions"),
        ("https://api.example.com/v1/responses", "https://api.example.com/v1", "/responses"),
        ("https://api.example.com/v1/messages", "https://api.example.com/v1", "/messages"),
        ("http://h:11434/api/chat", "http://h:11434", "/api/chat"),
        ("http://h:11434/api/generate", "http://h:11434", "/api/generate"),
        ("http://h:8000/v1/models", "http://h:8000/v1", "/models"),
    ],
)
def test_a_whole_endpoint_is_refused_naming_the_base_url(url: str, base: str, ending: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_target(url)
    assert str(e.value) == (
        f"TARGET_BASE_URL {url!r} is a whole endpoint: give the server's base URL, {base} "
        f"(clients add {ending} themselves)"
    )


@pytest.mark.parametrize(
    "url", ["http://h/v1", "http://h/openai/v1", "http://h/api", "http://h/chat", "http://h/api/v1"]
)
def test_base_urls_that_name_no_endpoint_pass(url: str) -> None:
    assert parse_target(url).url == url
