"""An agent loop on SmolLM2 through the openai SDK: a schema-held answer, a tool call, its result,
the final answer, then the same over /v1/responses with a follow-up served from the prefix cache."""

from __future__ import annotations

import json

import jsonschema
import pytest

openai = pytest.importorskip("openai")

WEATHER = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 30},
                                            "unit": {"enum": ["celsius", "fahrenheit"]}},
           "required": ["city", "unit"], "additionalProperties": False}
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "The current weather in a city",
                                         "parameters": WEATHER}}
PLACE = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 30},
                                          "country": {"type": "string", "maxLength": 30}},
         "required": ["city", "country"], "additionalProperties": False}
BLOCK = 16  # the engine's KV block size: the prefix cache serves whole blocks


@pytest.fixture(scope="module")
def client(smol_server):  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=smol_server.base_url + "/v1", api_key="unused", max_retries=0)


def test_weather_agent_over_chat(client, smol_server) -> None:  # type: ignore[no-untyped-def]
    model = smol_server.model
    # 1. An answer held to a schema.
    place = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Which city is the Eiffel Tower in?"}], max_tokens=40,
        temperature=0, response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": PLACE,
                                                                               "strict": True}})
    value = json.loads(place.choices[0].message.content)
    jsonschema.validate(value, PLACE)
    assert place.model_extra["psionic"]["structured_value"] == value
    # 2. A tool call, forced and held to the tool's schema.
    messages = [{"role": "user", "content": f"What is the weather in {value['city']} right now?"}]
    first = client.chat.completions.create(model=model, messages=messages, tools=[TOOL], tool_choice="required",
                                           parallel_tool_calls=False, max_tokens=60, temperature=0)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER)
    # 3. The tool's result goes back; 4. the final answer is text.
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "18 degrees celsius and sunny"}]
    final = client.chat.completions.create(model=model, messages=messages, tools=[TOOL], tool_choice="none",
                                           max_tokens=40, temperature=0)
    assert final.choices[0].message.content and not final.choices[0].message.tool_calls
    # The conversation so far (tools, question, call) is the new prompt's start: the prefix cache serves it.
    assert final.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens // BLOCK * BLOCK


def test_weather_agent_over_responses(client, smol_server) -> None:  # type: ignore[no-untyped-def]
    tool = {"type": "function", "name": "get_weather", "description": "The current weather in a city",
            "parameters": WEATHER}
    first = client.responses.create(model=smol_server.model, input="What is the weather in Paris?", tools=[tool],
                                    tool_choice="required", parallel_tool_calls=False, max_output_tokens=60,
                                    temperature=0)
    calls = [item for item in first.output if item.type == "function_call"]
    assert first.status == "completed" and len(calls) == 1 and calls[0].name == "get_weather"
    jsonschema.validate(json.loads(calls[0].arguments), WEATHER)
    follow = client.responses.create(
        model=smol_server.model, previous_response_id=first.id, tools=[tool], tool_choice="none",
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "18 degrees celsius, sunny"}],
        max_output_tokens=40, temperature=0)
    assert follow.output_text and [item.type for item in follow.output] == ["message"]
    # The follow-up's prompt starts with the whole first exchange: every full block of the first
    # prompt comes from the prefix cache.
    assert follow.usage.input_tokens_details.cached_tokens >= first.usage.input_tokens // BLOCK * BLOCK
