"""The continuation request per server, field by field (cot_proxy.budget.continuation)."""

from __future__ import annotations

from cot_proxy.budget.continuation import continuation_body

HI = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
BODY = {"model": "m", "messages": HI, "stream": False, "temperature": 0.6}


def test_vllm_and_sglang_continue_the_final_message():
    for server in ("vllm", "sglang"):
        body = continuation_body(BODY, server, "chat", "I think ", "Answer now.", ("<t>", "</t>"))
        assert body == {
            "model": "m",
            "temperature": 0.6,
            "stream": True,
            "continue_final_message": True,
            "add_generation_prompt": False,
            "messages": [
                *HI,
                {"role": "assistant", "content": "<t>\nI think\n\nAnswer now.\n</t>\n\n"},
            ],
        }
    assert BODY == {"model": "m", "messages": HI, "stream": False, "temperature": 0.6}


def test_llamacpp_prefills_an_assistant_turn_with_its_reasoning():
    body = continuation_body(BODY, "llamacpp", "chat", "hmm", "Go.", None)
    assert body["messages"][-1] == {
        "role": "assistant",
        "content": "",
        "reasoning_content": "hmm\n\nGo.",
    }
    assert "continue_final_message" not in body and body["stream"] is True


def test_ollama_continues_a_trailing_assistant_turn():
    native = continuation_body(BODY, "ollama", "ollama_chat", "", "Go.", None)
    assert native["messages"][-1] == {"role": "assistant", "content": "", "thinking": "Go."}
    openai = continuation_body(BODY, "ollama", "chat", "x", "Go.", None)
    assert openai["messages"][-1] == {"role": "assistant", "content": "", "reasoning": "x\n\nGo."}
