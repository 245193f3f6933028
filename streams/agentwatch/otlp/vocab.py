"""Attribute vocabularies: which attribute key fills which field of a normalized span.

One table covers every vocabulary agentwatch reads (OTel GenAI current and pre-1.37, OpenLLMetry /
Traceloop, OpenInference, OpenLIT, Langfuse; see shared/reference/otel-kafka-genai.md §3). The
normalizer looks each attribute key up once in `KEYS` (a dict: ~40 ns a miss), so a span with none of
these keys costs little more than its parse. To support a new instrumentation, add its keys here.

Where a framework needs more than a key, one named rule in `normalize.py` does it:
- `reported_total` (any): a total above input + output counts, the difference as reasoning inside output.
- `langfuse_usage` (Langfuse SDK): `usage_details` JSON bucketed by key name, as Langfuse buckets it.
- `genkit_usage` (Firebase Genkit): the usage inside a model span's `genkit:output` JSON (`GENKIT_USAGE`).
- `request_model` (OpenInference): a failed LLM span has no model key; `llm.invocation_parameters` has it.
- `tool_message_args` (Strands): a tool span's arguments only in its `gen_ai.tool.message` event.
- `langgraph_root` (OpenInference LangChain): a LangGraph run's root CHAIN span is the agent, named as the
  graph (`create_react_agent(name=...)`); LangGraph's default name `LangGraph` names nothing.
- `codex_call` (OpenAI Codex CLI): its `handle_responses` span with usage is the LLM call; it names no
  model (the model is on an ancestor span: the call counts under `unknown`).
- `adk_wrapper` (Google ADK schema v1): its `call_llm` span repeats the usage of the model call inside it.
- `llamaindex_prepare` (OpenInference LlamaIndex): `*._prepare_chat_with_tools` LLM spans make no call.
- `crewai_agent` (OpenInference CrewAI): the AGENT span `<role>._execute_core` names the agent `<role>`.
- `vertex_model` (OpenInference Vertex AI): a model named by its resource path is named by its last part.
- `class_repr_error_type` (Semantic Kernel): `error.type` = `<class 'a.b.Error'>` is read as `a.b.Error`.
- Vercel AI SDK: the kind comes from `ai.operationId` (`VERCEL_KIND`); the run span is the agent.
- Errors (tasks.py): a failure counts once, on the deepest failed span, not on each ancestor it reaches.
"""

from __future__ import annotations

from ..model import AGENT, LLM, OTHER, TOOL

# Field slots. Ints, so the normalizer dispatches with comparisons, not string hashing.
(
    OPERATION,        # gen_ai.operation.name
    TL_KIND,          # traceloop.span.kind
    LLM_REQUEST_TYPE,  # OpenLLMetry llm.request.type (chat, completion, embedding)
    OI_KIND,          # openinference.span.kind
    LF_TYPE,          # langfuse.observation.type
    PROVIDER,
    RESPONSE_MODEL,
    REQUEST_MODEL,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    TOTAL_TOKENS,
    CACHE_READ_TOKENS,
    REASONING_TOKENS,
    LF_USAGE,         # Langfuse usage_details: JSON {"input", "output", "total"}
    REPORTED_COST,    # a cost the instrumentation computed (USD): used only for a model without a known price
    AGENT_NAME,
    AGENT_ID,
    TL_ENTITY,        # traceloop.entity.name: the agent's or tool's name, by traceloop.span.kind
    CONVERSATION,
    TOOL_NAME,
    TOOL_ARGS,        # arguments on any span that is a tool call
    TOOL_INPUT,       # generic input (traceloop.entity.input, input.value, langfuse input): args only on tool spans
    ERROR_TYPE,
    VERCEL_OP,        # ai.operationId (Vercel AI SDK)
    VERCEL_FUNCTION,  # ai.telemetry.functionId: the caller's name for a generateText/streamText run
    GENKIT_SUBTYPE,   # genkit:metadata:subtype (model, tool, flow)
    GENKIT_NAME,      # genkit:name: the model, tool or flow name
    GENKIT_OUTPUT,    # genkit:output: JSON; on a model span it holds the usage (rule `genkit_usage`)
    OI_PARAMS,        # llm.invocation_parameters: JSON; its "model" names a failed call (rule `request_model`)
    COST_CURRENCY,    # gen_ai.usage.cost.currency: a reported cost in another currency than USD is not used
    OI_METADATA,      # OpenInference `metadata` JSON: marks a LangGraph run's root (rule `langgraph_root`)
    CACHE_WRITE_TOKENS,  # part of input, priced at the cache-write rate (not in the summary's tokens)
    ARGS_HASH,        # agentwatch.tool.args_sha256: the arguments' hash itself (spans agentwatch re-encoded)
) = range(33)

KEYS: dict[str, int] = {
    # span type
    "gen_ai.operation.name": OPERATION,
    "traceloop.span.kind": TL_KIND,
    "llm.request.type": LLM_REQUEST_TYPE,
    "openinference.span.kind": OI_KIND,
    "langfuse.observation.type": LF_TYPE,
    "ai.operationId": VERCEL_OP,
    "ai.telemetry.functionId": VERCEL_FUNCTION,
    "genkit:metadata:subtype": GENKIT_SUBTYPE,
    "genkit:name": GENKIT_NAME,
    "genkit:output": GENKIT_OUTPUT,
    "llm.invocation_parameters": OI_PARAMS,
    "metadata": OI_METADATA,
    # provider
    "gen_ai.provider.name": PROVIDER,
    "gen_ai.system": PROVIDER,
    "llm.provider": PROVIDER,
    "llm.system": PROVIDER,
    "ai.model.provider": PROVIDER,
    # model
    "gen_ai.response.model": RESPONSE_MODEL,
    "llm.response.model": RESPONSE_MODEL,
    "gen_ai.request.model": REQUEST_MODEL,
    "llm.request.model": REQUEST_MODEL,
    "llm.model_name": REQUEST_MODEL,
    "langfuse.observation.model.name": REQUEST_MODEL,
    "ai.model.id": REQUEST_MODEL,
    "ai.response.model": RESPONSE_MODEL,
    # tokens
    "gen_ai.usage.input_tokens": INPUT_TOKENS,
    "gen_ai.usage.prompt_tokens": INPUT_TOKENS,
    "llm.usage.prompt_tokens": INPUT_TOKENS,
    "llm.token_count.prompt": INPUT_TOKENS,
    "gen_ai.usage.output_tokens": OUTPUT_TOKENS,
    "gen_ai.usage.completion_tokens": OUTPUT_TOKENS,
    "llm.usage.completion_tokens": OUTPUT_TOKENS,
    "llm.token_count.completion": OUTPUT_TOKENS,
    "llm.usage.total_tokens": TOTAL_TOKENS,
    "gen_ai.usage.total_tokens": TOTAL_TOKENS,
    "llm.token_count.total": TOTAL_TOKENS,
    "ai.usage.promptTokens": INPUT_TOKENS,       # Vercel AI SDK 4
    "ai.usage.completionTokens": OUTPUT_TOKENS,
    "ai.usage.inputTokens": INPUT_TOKENS,        # Vercel AI SDK 5
    "ai.usage.outputTokens": OUTPUT_TOKENS,
    "ai.usage.totalTokens": TOTAL_TOKENS,
    "ai.usage.reasoningTokens": REASONING_TOKENS,
    "ai.usage.cachedInputTokens": CACHE_READ_TOKENS,
    "gen_ai.usage.cache_read.input_tokens": CACHE_READ_TOKENS,
    "gen_ai.usage.cache_read_input_tokens": CACHE_READ_TOKENS,
    "llm.token_count.prompt_details.cache_read": CACHE_READ_TOKENS,
    "gen_ai.usage.cache_creation.input_tokens": CACHE_WRITE_TOKENS,
    "gen_ai.usage.cache_creation_input_tokens": CACHE_WRITE_TOKENS,   # OpenLLMetry (Anthropic's name)
    "gen_ai.usage.cache_write.input_tokens": CACHE_WRITE_TOKENS,      # Codex CLI, proposed conventions
    "llm.token_count.prompt_details.cache_write": CACHE_WRITE_TOKENS,
    "ai.usage.inputTokenDetails.cacheWriteTokens": CACHE_WRITE_TOKENS,
    "gen_ai.usage.reasoning.output_tokens": REASONING_TOKENS,
    "gen_ai.usage.reasoning_tokens": REASONING_TOKENS,
    "llm.token_count.completion_details.reasoning": REASONING_TOKENS,
    "gen_ai.usage.details.reasoning_tokens": REASONING_TOKENS,  # Pydantic AI (its aggregated_usage is not read)
    "gen_ai.usage.details.cache_read_tokens": CACHE_READ_TOKENS,
    "codex.usage.reasoning_output_tokens": REASONING_TOKENS,   # OpenAI Codex CLI, on its `handle_responses` span
    "codex.usage.total_tokens": TOTAL_TOKENS,
    "langfuse.observation.usage_details": LF_USAGE,
    "gen_ai.usage.cost": REPORTED_COST,
    "gen_ai.usage.cost.amount": REPORTED_COST,  # semantic-conventions-genai#443 (proposed), with its currency
    "gen_ai.usage.cost.currency": COST_CURRENCY,
    "operation.cost": REPORTED_COST,            # Pydantic AI (USD)
    # note: Codex's `codex.turn.token_usage.*` (the turn span's sum over its calls) is deliberately absent.
    # note: `gen_ai.client.token.usage` (OpenLIT reuses the metric name as a span attribute) is
    # deliberately absent: it is input + output and would double count.
    # agent, session
    "gen_ai.agent.name": AGENT_NAME,
    "agent.name": AGENT_NAME,
    "gen_ai.agent.id": AGENT_ID,
    "traceloop.entity.name": TL_ENTITY,
    "gen_ai.conversation.id": CONVERSATION,
    "session.id": CONVERSATION,
    "langfuse.session.id": CONVERSATION,
    "traceloop.association.properties.session_id": CONVERSATION,
    "traceloop.association.properties.conversation_id": CONVERSATION,
    # tools
    "gen_ai.tool.name": TOOL_NAME,
    "tool.name": TOOL_NAME,
    "gen_ai.tool.call.arguments": TOOL_ARGS,
    "gen_ai.tool.args": TOOL_ARGS,
    "ai.toolCall.name": TOOL_NAME,
    "ai.toolCall.args": TOOL_ARGS,
    "gcp.vertex.agent.tool_call_args": TOOL_ARGS,   # Google ADK, telemetry schema v1
    "spring.ai.tool.definition.name": TOOL_NAME,    # Spring AI
    "spring.ai.tool.call.arguments": TOOL_ARGS,
    "traceloop.entity.input": TOOL_INPUT,
    "input.value": TOOL_INPUT,
    "langfuse.observation.input": TOOL_INPUT,
    "genkit:input": TOOL_INPUT,
    # errors
    "error.type": ERROR_TYPE,
    # extension: the spans agentwatch writes back (otlp/encode.py) carry the arguments' hash, not the arguments
    "agentwatch.tool.args_sha256": ARGS_HASH,
}
ARGS_HASH_KEY = "agentwatch.tool.args_sha256"

# Slots whose value is a count or an amount; the rest are strings (or structured, for arguments).
NUMERIC = frozenset({INPUT_TOKENS, OUTPUT_TOKENS, TOTAL_TOKENS, CACHE_READ_TOKENS, REASONING_TOKENS, REPORTED_COST,
                     CACHE_WRITE_TOKENS})

# Span type per vocabulary. Unlisted values (workflow, chain, retriever, embeddings' cousins...) are OTHER.
# GenAI operations listed as OTHER are final: a workflow or plan span may repeat its children's usage and
# model, and must not then be taken for an LLM call by the model-and-tokens fallback.
OPERATION_KIND = {
    "chat": LLM, "generate_content": LLM, "text_completion": LLM, "embeddings": LLM,
    "execute_tool": TOOL,
    "invoke_agent": AGENT, "create_agent": AGENT,  # create_agent names the agent; it has no usage of its own
    "invoke_workflow": OTHER, "plan": OTHER, "retrieval": OTHER,
    # the memory operations proposed in semantic-conventions#3250
    "create_memory_store": OTHER, "search_memory": OTHER, "update_memory": OTHER, "delete_memory": OTHER,
    "delete_memory_store": OTHER,
    "invoke_node": OTHER,  # a graph node / workflow step, proposed in semantic-conventions-genai#188
}
TRACELOOP_KIND = {"agent": AGENT, "tool": TOOL}
LLM_REQUEST_KIND = {"chat": LLM, "completion": LLM, "embedding": LLM, "rerank": LLM}
OPENINFERENCE_KIND = {"LLM": LLM, "EMBEDDING": LLM, "TOOL": TOOL, "AGENT": AGENT}
LANGFUSE_KIND = {"generation": LLM, "embedding": LLM, "tool": TOOL, "agent": AGENT}
# Vercel AI SDK: each provider call is a `.doGenerate`/`.doStream`/`.doEmbed` child of a run span
# (`ai.generateText`...) whose `ai.usage.*` is the sum over its steps. The run is the agent (named by
# `ai.telemetry.functionId`): its usage counts only for a task without LLM spans, never on top of them.
VERCEL_KIND = {
    "ai.generateText.doGenerate": LLM, "ai.streamText.doStream": LLM, "ai.generateObject.doGenerate": LLM,
    "ai.streamObject.doStream": LLM, "ai.embed.doEmbed": LLM, "ai.embedMany.doEmbed": LLM,
    "ai.toolCall": TOOL,
    "ai.generateText": AGENT, "ai.streamText": AGENT, "ai.generateObject": AGENT, "ai.streamObject": AGENT,
    "ai.embed": OTHER, "ai.embedMany": OTHER,
}
# Firebase Genkit has no gen_ai keys: the span's subtype says what it is and `genkit:name` names it. Only a
# model span's usage counts: each `generate` util span repeats the usage of its turn's last model response.
GENKIT_KIND = {"model": LLM, "tool": TOOL, "flow": AGENT}
# Genkit usage fields (inside `genkit:output`) -> Span attributes. Gemini's outputTokens leaves out the
# thoughts that its totalTokens has; the reported-total rule puts them back into output.
GENKIT_USAGE = {"inputTokens": "input_tokens", "outputTokens": "output_tokens", "thoughtsTokens": "reasoning_tokens",
                "cachedContentTokens": "cache_read_tokens", "totalTokens": "total_tokens"}

LANGGRAPH_MARK = ("ls_integration", '"langgraph"')   # both in the `metadata` JSON of LangGraph's spans
LANGGRAPH_DEFAULT_NAME = "LangGraph"

CODEX_CALL_SPAN = "handle_responses"
VERTEX_MODEL_PREFIXES = ("projects/", "publishers/")
MODEL_NONE = "none"  # Micrometer's empty value (Spring AI's failed call): no model
# OpenInference LlamaIndex marks the preparation of a tool-calling request as an LLM span: no call is made.
LLAMAINDEX_PREPARE_SUFFIX = "._prepare_chat_with_tools"
# OpenInference CrewAI names the agent only in its AGENT span's name, `<role>._execute_core`.
CREWAI_AGENT_SUFFIX = "._execute_core"
# Google ADK's telemetry schema v1: each model call is a `call_llm` span (gen_ai.system = ADK's own name)
# around a `generate_content` span, both with the call's usage: the wrapper is not a call.
ADK_WRAPPER = ("call_llm", "gcp.vertex.agent")

# Span-name prefixes that carry the name when the attribute is missing (OTel span-name conventions).
AGENT_SPAN_PREFIX = "invoke_agent "
TOOL_SPAN_PREFIX = "execute_tool "

# Resource attributes reported on alerts and summaries.
RESOURCE_SERVICE = "service.name"
RESOURCE_NAMESPACE = "k8s.namespace.name"
RESOURCE_POD = "k8s.pod.name"
RESOURCE_DEPLOYMENT = "k8s.deployment.name"

# Evaluations: the GenAI event, and OpenInference's flattened `evaluations.N.evaluation.{name,score}`.
EVALUATION_EVENT = "gen_ai.evaluation.result"
EVALUATION_NAME = "gen_ai.evaluation.name"
EVALUATION_SCORE = "gen_ai.evaluation.score.value"
OI_EVALUATIONS_PREFIX = "evaluations."
EXCEPTION_EVENT = "exception"
TOOL_MESSAGE_EVENT = "gen_ai.tool.message"  # pre-1.37 content event; on a tool span it holds the arguments
TOOL_MESSAGE_CONTENT = "content"
EXCEPTION_TYPE = "exception.type"

__all__ = ["AGENT", "LLM", "OTHER", "TOOL"]
