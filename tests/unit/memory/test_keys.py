"""The keys of the reasoning memory: owner, model and turn; nothing readable back."""

from __future__ import annotations

import hashlib

from cot_proxy.memory.keys import ANONYMOUS
from cot_proxy.memory.keys import entry_key
from cot_proxy.memory.keys import fingerprint
from cot_proxy.memory.keys import owner_of

KEY = "sk-secret-0123456789"


def test_the_owner_is_an_hmac_of_the_credential_not_its_plain_digest():
    owner = owner_of({"authorization": f"Bearer {KEY}"})
    assert KEY not in owner and len(owner) == 64
    for plain in (KEY, f"Bearer {KEY}", f"authorization:Bearer {KEY}"):
        assert owner != hashlib.sha256(plain.encode()).hexdigest()
    assert owner == owner_of({"authorization": f"Bearer {KEY}"})  # every worker agrees


def test_each_credential_header_names_its_own_owner():
    bearer = owner_of({"authorization": f"Bearer {KEY}"})
    api_key = owner_of({"x-api-key": KEY})
    assert len({bearer, api_key, owner_of({"api-key": KEY})}) == 3
    assert owner_of({"authorization": "Bearer other"}) != bearer
    # Authorization first, as the gateway reads it
    assert owner_of({"authorization": f"Bearer {KEY}", "x-api-key": "x"}) == bearer


def test_no_credential_is_the_anonymous_owner():
    assert owner_of({}) == ANONYMOUS
    assert owner_of({"authorization": "  "}) == ANONYMOUS


def test_the_fingerprint_ignores_whitespace_and_call_order():
    one = fingerprint("  Let me\n look   that up. ", ["call_b", "call_a"])
    assert one == fingerprint("Let me look that up.", ["call_a", "call_b"])
    assert one != fingerprint("Let me look that up!", ["call_a", "call_b"])
    assert one != fingerprint("Let me look that up.", ["call_a"])
    assert fingerprint("", ["call_a"]) != fingerprint("call_a", [])


def test_a_turn_with_nothing_to_know_it_by_has_no_fingerprint():
    assert fingerprint("  \n", []) is None
    assert fingerprint("", ["", ""]) is None


def test_the_entry_key_holds_neither_the_model_nor_the_text():
    turn = fingerprint("hello", [])
    assert turn is not None
    key = entry_key(owner_of({"x-api-key": KEY}), "secret-model-name", turn)
    assert "secret-model-name" not in key and "hello" not in key
    assert key != entry_key(owner_of({"x-api-key": KEY}), "other-model", turn)
    assert key.startswith("cot-proxy:reasoning:")
