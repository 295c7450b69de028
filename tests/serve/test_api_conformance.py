"""The official openai SDK against the server: sync, async and streaming."""

from __future__ import annotations

import asyncio

import pytest

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def client(tiny_server):  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=tiny_server.base_url + "/v1", api_key="unused", max_retries=0)


def test_models_list_capabilities(client, tiny_server) -> None:  # type: ignore[no-untyped-def]
    models = client.models.list().data
    assert [m.id for m in models] == [tiny_server.model]
    extra = models[0].model_extra["psionic"]
    assert set(extra["capabilities"]) == {"chat", "completions"}
    assert extra["model_digest"].startswith("sha256:")


def test_chat_completion_sync(client, tiny_server) -> None:  # type: ignore[no-untyped-def]
    r = client.chat.completions.create(
        model=tiny_server.model, messages=[{"role": "user", "content": "hi"}], max_tokens=5,
        temperature=0, extra_body={"ignore_eos": True},
    )
    assert r.object == "chat.completion"
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 5
    assert r.usage.total_tokens == r.usage.prompt_tokens + 5
    psionic = r.model_extra["psionic"]
    assert psionic["receipt_digest"].startswith("sha256:")
    assert psionic["batch_sizes"][0] and len(psionic["batch_sizes"][0]) == 5


def test_chat_completion_stream_matches_non_stream(client, tiny_server) -> None:  # type: ignore[no-untyped-def]
    kwargs = dict(model=tiny_server.model, messages=[{"role": "user", "content": "tell me"}], max_tokens=12,
                  temperature=0.9, seed=42, extra_body={"ignore_eos": True})
    whole = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals[-1].choices[0].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens == 12
    assert chunks[-1].model_extra["psionic"]["output_digest"] == whole.model_extra["psionic"]["output_digest"]


def test_n_and_seed_and_logprobs(client, tiny_server) -> None:  # type: ignore[no-untyped-def]
    r = client.chat.completions.create(
        model=tiny_server.model, messages=[{"role": "user", "content": "x"}], max_tokens=4, n=3,
        temperature=1.0, seed=7, logprobs=True, top_logprobs=2, extra_body={"ignore_eos": True},
    )
    assert [c.index for c in r.choices] == [0, 1, 2]
    again = client.chat.completions.create(
        model=tiny_server.model, messages=[{"role": "user", "content": "x"}], max_tokens=4, n=3,
        temperature=1.0, seed=7, extra_body={"ignore_eos": True},
    )
    assert [c.message.content for c in r.choices] == [c.message.content for c in again.choices]
    content = r.choices[0].logprobs.content
    assert len(content) == 4 and len(content[0].top_logprobs) == 2
    assert content[0].top_logprobs[0].logprob >= content[0].top_logprobs[1].logprob
    assert r.usage.completion_tokens == 12


def test_stop_strings(client, tiny_server) -> None:  # type: ignore[no-untyped-def]
    base = client.completions.create(model=tiny_server.model, prompt="abc", max_tokens=20, temperature=0,
                                     extra_body={"ignore_eos": True})
    text = base.choices[0].text
    stop = text[3:5]
    if not stop.strip():
        pytest.skip("greedy text has no printable stop candidate")
    cut = client.completions.create(model=tiny_server.model, prompt="abc", max_tokens=20, temperature=0,
                                    stop=[stop], extra_body={"ignore_eos": True})
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].text == text[: text.index(stop)]


def test_text_completion_stream_and_token_prompt(client, tiny_server) -> None:  # type: ignore[no-untyped-def]
    r = client.completions.create(model=tiny_server.model, prompt=[72, 105], max_tokens=3, temperature=0,
                                  extra_body={"ignore_eos": True})
    assert r.object == "text_completion" and r.usage.prompt_tokens == 2
    chunks = list(client.completions.create(model=tiny_server.model, prompt=[72, 105], max_tokens=3,
                                            temperature=0, stream=True, extra_body={"ignore_eos": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == r.choices[0].text


def test_async_client_concurrent(tiny_server) -> None:  # type: ignore[no-untyped-def]
    async def main() -> list[str]:
        aclient = openai.AsyncOpenAI(base_url=tiny_server.base_url + "/v1", api_key="unused", max_retries=0)
        calls = [
            aclient.chat.completions.create(model=tiny_server.model, messages=[{"role": "user", "content": f"q{i}"}],
                                            max_tokens=6, temperature=0, extra_body={"ignore_eos": True})
            for i in range(8)
        ]
        results = await asyncio.gather(*calls)
        await aclient.close()
        return [r.choices[0].message.content for r in results]

    texts = asyncio.run(main())
    assert len(texts) == 8 and all(isinstance(t, str) for t in texts)


def test_responses_store_and_follow_up(client, tiny_server) -> None:  # type: ignore[no-untyped-def]
    first = client.responses.create(model=tiny_server.model, input="hello", max_output_tokens=6, temperature=0)
    assert first.status in ("completed", "incomplete") and first.output_text == first.output[0].content[0].text
    again = client.responses.retrieve(first.id)
    assert again.id == first.id and again.output_text == first.output_text
    follow = client.responses.create(model=tiny_server.model, input="and then?", previous_response_id=first.id,
                                     max_output_tokens=4, temperature=0)
    assert follow.previous_response_id == first.id
    # The follow-up's prompt starts with the first exchange, so the prefix cache serves part of it.
    assert follow.usage.input_tokens_details.cached_tokens > 0
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.retrieve(first.id)
    assert err.value.body["code"] == "response_not_found"


def test_responses_stream(client, tiny_server) -> None:  # type: ignore[no-untyped-def]
    events = list(client.responses.create(model=tiny_server.model, input="stream me", max_output_tokens=5,
                                          temperature=0, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] in ("response.completed", "response.incomplete")
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == events[-1].response.output_text
