// Records real Mastra (@mastra/core 1.x) OpenTelemetry spans: Mastra's AI tracing (@mastra/observability)
// exported through its OTel exporter (@mastra/otel-exporter, GenAI semantic conventions), which takes a custom
// SpanExporter: here the OTel JS SDK's InMemorySpanExporter. The model is ai/test's MockLanguageModelV4
// (in-process: no HTTP server, no sockets), which Mastra accepts as any AI SDK v4-spec language model.
// Usage: node record.mjs <out_dir>   (cwd = the node prefix where node_modules lives)
import { writeFileSync, readFileSync } from 'node:fs';
import { Mastra } from '@mastra/core/mastra';
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import { Observability } from '@mastra/observability';
import { OtelExporter } from '@mastra/otel-exporter';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { APICallError } from 'ai';
import { MockLanguageModelV4, convertArrayToReadableStream } from 'ai/test';
import { z } from 'zod';

const outDir = process.argv[2] || '.';
const SERVICE = 'aw-fw-mastra';
const MODEL_ID = 'gpt-4o-mini';
const PROVIDER = 'openai.chat'; // what @ai-sdk/openai's chat models report as provider

// InMemorySpanExporter.shutdown() clears what it holds; keep the spans readable after Mastra shuts down.
class KeepingExporter extends InMemorySpanExporter {
  shutdown() { return Promise.resolve(); }
}
const memory = new KeepingExporter();
const otel = new OtelExporter({
  // the exporter insists on a provider config even when `exporter` is given; the endpoint is never contacted
  provider: { custom: { endpoint: 'http://127.0.0.1:9/unused', protocol: 'http/json' } },
  exporter: memory,
  signals: { traces: true, logs: false },
});

// Ground truth, counted by the mock model / tool themselves (independent of the spans).
const truth = {};
let currentTask = null;
const T = () => (truth[currentTask] ||= { llm_calls: 0, tool_calls: 0, tools: {}, usage: [], errors: {} });

// LanguageModelV4Usage: inputTokens.total INCLUDES cacheRead, outputTokens.total INCLUDES reasoning. The spec has
// no provider total: total = input + output. Same numbers as the shared fake_openai_server.py script.
const U = (input, cacheRead, output, reasoning) => ({
  inputTokens: { total: input, noCache: input - cacheRead, cacheRead, cacheWrite: 0 },
  outputTokens: { total: output, text: output - reasoning, reasoning },
});
const USAGE = { task1: [U(1234, 200, 567, 89), U(2345, 1200, 678, 45)], task2: [U(1111, 100, 222, 33)] };
const CITY = { task1: 'Paris', task2: 'Tokyo' };
const ANSWER = 'It is 18 C and cloudy in Paris.';

function turn() {
  const t = T();
  const n = t.llm_calls++;
  if (currentTask === 'task2' && n === 1) {
    // one failure. Its label is Mastra's, not the thrown class: otel-exporter writes error.type = errorInfo.id ||
    // 'unknown', and an AI SDK APICallError carries no Mastra error id (see NOTES.md).
    t.errors.unknown = 1;
    throw new APICallError({
      message: 'Internal Server Error',
      url: 'http://127.0.0.1:9/v1/chat/completions',
      requestBodyValues: {},
      statusCode: 500,
      responseBody: '{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}',
      isRetryable: false,
    });
  }
  const usage = USAGE[currentTask][n];
  t.usage.push(usage);
  return { n, usage, city: CITY[currentTask] };
}
const meta = (n) => ({ id: `resp_aw_${currentTask}_${n}`, modelId: MODEL_ID, timestamp: new Date(0) });
const callId = (city) => `call_aw_${city.toLowerCase()}`;

const model = new MockLanguageModelV4({
  provider: PROVIDER,
  modelId: MODEL_ID,
  doGenerate: async () => {
    const { n, usage, city } = turn();
    const content = n === 0
      ? [{ type: 'tool-call', toolCallId: callId(city), toolName: 'get_weather', input: JSON.stringify({ city }) }]
      : [{ type: 'text', text: ANSWER }];
    const finishReason = n === 0 ? { unified: 'tool-calls', raw: 'tool_calls' } : { unified: 'stop', raw: 'stop' };
    return { content, finishReason, usage, warnings: [], response: meta(n) };
  },
  doStream: async () => {
    const { n, usage, city } = turn();
    const head = [{ type: 'stream-start', warnings: [] }, { type: 'response-metadata', ...meta(n) }];
    const parts = n === 0
      ? [...head,
        { type: 'tool-input-start', id: callId(city), toolName: 'get_weather' },
        { type: 'tool-input-delta', id: callId(city), delta: JSON.stringify({ city }) },
        { type: 'tool-input-end', id: callId(city) },
        { type: 'tool-call', toolCallId: callId(city), toolName: 'get_weather', input: JSON.stringify({ city }) },
        { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage }]
      : [...head,
        { type: 'text-start', id: 't1' },
        { type: 'text-delta', id: 't1', delta: ANSWER },
        { type: 'text-end', id: 't1' },
        { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage }];
    return { stream: convertArrayToReadableStream(parts) };
  },
});

const WEATHER = { Paris: { temp_c: 18, conditions: 'cloudy' }, Tokyo: { temp_c: 24, conditions: 'sunny' } };
const getWeather = createTool({
  id: 'get_weather',
  description: 'Current weather for a city',
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => {
    const t = T();
    t.tool_calls++;
    t.tools.get_weather = (t.tools.get_weather || 0) + 1;
    return { city, ...WEATHER[city] };
  },
});

const agent = new Agent({
  id: 'weather-bot',
  name: 'weather-bot',
  instructions: 'You are weather-bot.',
  model,
  tools: { get_weather: getWeather },
  maxRetries: 0,
});

const mastra = new Mastra({
  agents: { weatherBot: agent },
  observability: new Observability({ configs: { otel: { serviceName: SERVICE, exporters: [otel] } } }),
  logger: false,
});
const bot = mastra.getAgent('weatherBot');

const order = ['task1', 'task2'];
currentTask = 'task1';
const r1 = await bot.generate("What's the weather in Paris?", { maxSteps: 3 });
console.log('task1:', r1.text);
if (r1.text !== ANSWER) throw new Error(`task1 answer: ${r1.text}`);
currentTask = 'task2';
try {
  const r2 = await bot.generate("What's the weather in Tokyo?", { maxSteps: 3 });
  console.log('task2: no exception; error =', r2.error?.name, r2.error?.message, '| finishReason', r2.finishReason);
  if (!r2.error) throw new Error('expected the second task to fail');
} catch (e) {
  console.log('task2 error:', e.name, e.message);
}

await new Promise((r) => setTimeout(r, 500)); // Mastra hands ended spans to its exporters asynchronously
await otel.flush();
await mastra.shutdown?.();
const spans = memory.getFinishedSpans();
const body = JSON.parse(Buffer.from(JsonTraceSerializer.serializeRequest(spans)).toString('utf8'));
// otlp-transformer's JSON writes hex ids; convert defensively if a version writes base64.
const hex = (v, len) => (typeof v === 'string' && v.length && !new RegExp(`^[0-9a-f]{${len}}$`).test(v) ? Buffer.from(v, 'base64').toString('hex') : v);
for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) {
  s.traceId = hex(s.traceId, 32); s.spanId = hex(s.spanId, 16);
  if (s.parentSpanId) s.parentSpanId = hex(s.parentSpanId, 16);
}
writeFileSync(`${outDir}/spans.json`, JSON.stringify(body, null, 1) + '\n');

// trace id of each task = trace of its root (agent run) span, in run order
const roots = spans.filter((s) => !s.parentSpanContext?.spanId)
  .sort((a, b) => (a.startTime[0] - b.startTime[0]) || (a.startTime[1] - b.startTime[1]));
const traces = roots.map((s) => s.spanContext().traceId);
if (traces.length !== order.length) throw new Error(`expected ${order.length} root spans, got ${traces.length}`);
const tasks = order.map((name, i) => {
  const t = truth[name];
  const sum = (f) => t.usage.reduce((a, u) => a + f(u), 0);
  return {
    trace_id: traces[i],
    llm_calls: t.llm_calls,
    tool_calls: t.tool_calls,
    tools: t.tools,
    tokens: {
      input: sum((u) => u.inputTokens.total),
      output: sum((u) => u.outputTokens.total),
      cache_read: sum((u) => u.inputTokens.cacheRead),
      reasoning: sum((u) => u.outputTokens.reasoning),
      total: sum((u) => u.inputTokens.total + u.outputTokens.total),
    },
    models: [MODEL_ID],
    agent: 'weather-bot',
    tool_args_recorded: true,
    errors: t.errors,
  };
});
const pkg = JSON.parse(readFileSync('./package.json', 'utf8')).dependencies;
const pins = Object.entries(pkg).map(([k, v]) => `${k}@${v}`).join(', ');
const expected = {
  source: `Recorded with ${pins} on node ${process.versions.node}; Mastra Agent 'weather-bot' (tool get_weather) with `
    + `new Observability({configs: {otel: {serviceName: '${SERVICE}', exporters: [new OtelExporter({exporter: `
    + 'InMemorySpanExporter})]}}}), serialized with JsonTraceSerializer. In-process ai/test MockLanguageModelV4 '
    + `(provider ${PROVIDER}, model ${MODEL_ID}; V4 usage: input total incl. cacheRead, output total incl. reasoning, `
    + 'no provider total so total = input + output), Agent.generate (Mastra drives doStream): task1 = tool call '
    + 'get_weather(Paris) then final text; task2 = tool call get_weather(Tokyo) then the model throws APICallError 500 '
    + '(maxRetries 0).',
  tasks,
};
writeFileSync(`${outDir}/expected.json`, JSON.stringify(expected, null, 2) + '\n');
console.log(`wrote ${spans.length} spans in ${traces.length} traces to ${outDir}`);
process.exit(0);
