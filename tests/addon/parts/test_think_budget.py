"""ThinkBudget's routing: a flow whose budget the proxy holds goes to the relay and is shown
with its target again once the answer comes; any other flow is not touched."""

from __future__ import annotations

from cot_proxy.budget.plan import Plan
from cot_proxy.budget.relay import TOKEN_HEADER
from cot_proxy.flow import notes
from cot_proxy.parts.router import Router
from cot_proxy.parts.target_tls import TargetTls
from cot_proxy.parts.think_budget import ThinkBudget
from cot_proxy.routing import parse_target
from tests.addon.flows import chat_flow


def part() -> ThinkBudget:
    router = Router()
    router.target = parse_target("http://10.1.2.3:8000/v1")
    budget = ThinkBudget(router, TargetTls())
    budget.relay.port = 40123  # not started: routing only
    return budget


def routed_flow(how: str = "proxy"):
    flow = chat_flow({"model": "m", "messages": []})
    flow.request.scheme, flow.request.host, flow.request.port = "http", "10.1.2.3", 8000
    flow.request.host_header = "10.1.2.3:8000"  # as the router leaves it
    record = notes(flow)
    record.endpoint = "chat"
    record.budget = Plan(64, how, "ollama", "Answer now.", "think budget 64")  # type: ignore[arg-type]
    return flow


def test_a_budgeted_flow_goes_to_the_relay_and_comes_back_as_sent():
    budget = part()
    flow = routed_flow()
    budget.request(flow)
    request = flow.request
    assert (request.host, request.port, request.scheme) == ("127.0.0.1", 40123, "http")
    assert request.host_header == "10.1.2.3:8000"
    job = budget.relay.jobs[request.headers[TOKEN_HEADER]]
    assert job.tokens == 64 and job.server == "ollama" and job.target.port == 8000
    budget.responseheaders(flow)
    assert (request.host, request.port) == ("10.1.2.3", 8000)
    assert TOKEN_HEADER not in request.headers


def test_a_flow_that_fails_before_the_relay_is_forgotten():
    budget = part()
    flow = routed_flow()
    budget.request(flow)
    budget.error(flow)
    assert budget.relay.jobs == {} and flow.request.host == "10.1.2.3"


def test_native_and_unheld_budgets_and_no_budget_are_not_routed():
    budget = part()
    for flow in (routed_flow("native"), routed_flow("none"), chat_flow({"model": "m"})):
        before = flow.request.get_state()
        budget.request(flow)
        assert flow.request.get_state() == before
    assert budget.relay.jobs == {}
