from agentwatch.redact import redact


def test_secrets_and_emails_are_masked():
    text = ("key sk-proj-abcdefghijklmnop1234 from alice@example.com with Authorization: Bearer abc.def.ghi123456 "
            "and password=hunter2 AKIAABCDEFGHIJKLMNOP")
    out = redact(text)
    for secret in ("sk-proj-abcdefghijklmnop1234", "alice@example.com", "abc.def.ghi123456", "hunter2",
                   "AKIAABCDEFGHIJKLMNOP"):
        assert secret not in out
    assert "[REDACTED_EMAIL]" in out


def test_truncates():
    assert len(redact("x" * 1000)) == 300
    assert redact("short") == "short"
