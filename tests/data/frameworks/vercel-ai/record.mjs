// Records real Vercel AI SDK (npm `ai`, major 7) OpenTelemetry spans with the SDK's own in-process mock model
// (MockLanguageModelV4 from 'ai/test': no HTTP server, no sockets).
// Usage: node record.mjs <out_dir> [legacy|semconv]   (cwd = the node prefix where node_modules lives)
//   legacy  (default): @ai-sdk/otel LegacyOpenTelemetry  -> ai.generateText / ai.generateText.doGenerate / ai.toolCall spans
//                      (the span shape that ai@4..6 emitted from core via experimental_telemetry)
//   semconv          : @ai-sdk/otel OpenTelemetry        -> GenAI semantic-convention spans (invoke_agent / chat / execute_tool)
import { writeFileSync, mkdirSync } from 'node:fs';
import { trace, context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { generateText, streamText, tool, stepCountIs, registerTelemetry, APICallError } from 'ai';
import { MockLanguageModelV4, convertArrayToReadableStream } from 'ai/test';
import { OpenTelemetry, LegacyOpenTelemetry } from '@ai-sdk/otel';
import { z } from 'zod';

const outDir = process.argv[2] || '.';
const mode = process.argv[3] || 'legacy';
mkdirSync(outDir, { recursive: true });

// Global OTel JS tracer provider: BasicTracerProvider + SimpleSpanProcessor(InMemorySpanExporter), as a NodeSDK app would have.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'aw-fw-vercel-ai' + (mode === 'legacy' ? '' : '-' + mode) }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
// ai@7 has no OTel code in core: experimental_telemetry only feeds the registered integrations.
registerTelemetry(mode === 'legacy' ? new LegacyOpenTelemetry() : new OpenTelemetry());

// Ground truth, counted by the mock model / tools themselves (independent of the spans).
const truth = {};
let currentTask = null;
const T = () => (truth[currentTask] ||= { llm_calls: 0, tool_calls: 0, tools: {}, usage: [], errors: {} });

// LanguageModelV4Usage (ai@7 / @ai-sdk/provider 4): inputTokens.total INCLUDES cacheRead (+cacheWrite),
// outputTokens.total INCLUDES reasoning. The V4 spec has no provider total: the SDK computes totalTokens = in + out.
const U = (input, cacheRead, output, reasoning) => ({
  inputTokens: { total: input, noCache: input - cacheRead, cacheRead, cacheWrite: 0 },
  outputTokens: { total: output, text: output - reasoning, reasoning },
});
const USAGE = {
  task1: [U(1234, 200, 567, 89), U(1500, 1000, 321, 45)],
  task2: [U(777, 300, 111, 22)],
  task3: [U(2100, 600, 432, 76), U(2400, 2000, 210, 30)],
};
const MODEL_ID = 'gpt-4o-mini';
const PROVIDER = 'openai.chat'; // what @ai-sdk/openai's chat models report as provider

const toolCall = (city) => ({ type: 'tool-call', toolCallId: `call_aw_${city.toLowerCase()}`, toolName: 'get_weather', input: JSON.stringify({ city }) });
const response = (n) => ({ id: `resp_aw_${currentTask}_${n}`, modelId: MODEL_ID, timestamp: new Date(0) });

function generateModel() {
  return new MockLanguageModelV4({
    provider: PROVIDER,
    modelId: MODEL_ID,
    doGenerate: async () => {
      const t = T();
      const n = t.llm_calls++;
      if (currentTask === 'task2' && n === 1) {
        t.errors.AI_APICallError = 1;
        throw new APICallError({
          message: 'Internal Server Error',
          url: 'http://127.0.0.1:9/v1/chat/completions',
          requestBodyValues: {},
          statusCode: 500,
          responseBody: '{"error":{"message":"scripted failure","type":"server_error"}}',
          isRetryable: false,
        });
      }
      const usage = USAGE[currentTask][n];
      t.usage.push(usage);
      if (n === 0) {
        const city = currentTask === 'task2' ? 'Tokyo' : 'Paris';
        return { content: [toolCall(city)], finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage, warnings: [], response: response(n) };
      }
      return { content: [{ type: 'text', text: 'It is 18°C and sunny in Paris.' }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [], response: response(n) };
    },
  });
}

function streamModel() {
  return new MockLanguageModelV4({
    provider: PROVIDER,
    modelId: MODEL_ID,
    doStream: async () => {
      const t = T();
      const n = t.llm_calls++;
      const usage = USAGE[currentTask][n];
      t.usage.push(usage);
      const meta = { type: 'response-metadata', ...response(n) };
      const parts = n === 0
        ? [{ type: 'stream-start', warnings: [] }, meta,
           { type: 'tool-input-start', id: 'call_aw_paris', toolName: 'get_weather' },
           { type: 'tool-input-delta', id: 'call_aw_paris', delta: '{"city":"Paris"}' },
           { type: 'tool-input-end', id: 'call_aw_paris' },
           toolCall('Paris'),
           { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage }]
        : [{ type: 'stream-start', warnings: [] }, meta,
           { type: 'text-start', id: 't1' },
           { type: 'text-delta', id: 't1', delta: 'It is 18°C ' },
           { type: 'text-delta', id: 't1', delta: 'and sunny in Paris.' },
           { type: 'text-end', id: 't1' },
           { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage }];
      return { stream: convertArrayToReadableStream(parts) };
    },
  });
}

const tools = {
  get_weather: tool({
    description: 'Get the current weather for a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      const t = T();
      t.tool_calls++;
      t.tools.get_weather = (t.tools.get_weather || 0) + 1;
      return { city, temperature_c: 18, conditions: 'sunny' };
    },
  }),
};
const common = {
  tools,
  stopWhen: stepCountIs(3),
  maxRetries: 0,
  experimental_telemetry: { isEnabled: true, functionId: 'weather-bot' },
};

const order = [];
currentTask = 'task1';
order.push(currentTask);
const r1 = await generateText({ model: generateModel(), prompt: 'What is the weather in Paris?', ...common });
console.log('task1:', r1.text, '| steps', r1.steps.length);

currentTask = 'task2';
order.push(currentTask);
try {
  await generateText({ model: generateModel(), prompt: 'What is the weather in Tokyo?', ...common });
  console.log('task2: unexpectedly succeeded');
} catch (e) {
  console.log('task2 error:', e.name, e.message);
}

currentTask = 'task3';
order.push(currentTask);
const r3 = streamText({ model: streamModel(), prompt: 'Stream me the weather in Paris.', ...common });
let streamed = '';
for await (const d of r3.textStream) streamed += d;
console.log('task3 (stream):', streamed, '| steps', (await r3.steps).length);

await provider.forceFlush();
const spans = exporter.getFinishedSpans();
const body = JSON.parse(Buffer.from(JsonTraceSerializer.serializeRequest(spans)).toString('utf8'));
// otlp-transformer's JSON already writes hex ids; convert defensively if a version writes base64.
const hex = (v, len) => (typeof v === 'string' && v.length && !new RegExp(`^[0-9a-f]{${len}}$`).test(v) ? Buffer.from(v, 'base64').toString('hex') : v);
for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) {
  s.traceId = hex(s.traceId, 32); s.spanId = hex(s.spanId, 16);
  if (s.parentSpanId) s.parentSpanId = hex(s.parentSpanId, 16);
}
writeFileSync(`${outDir}/spans.json`, JSON.stringify(body, null, 1) + '\n');

// trace id of each task = trace of its root span, in run order
const roots = spans.filter((s) => !s.parentSpanContext?.spanId && !s.parentSpanId)
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
    // OpenTelemetry (semconv) emits reasoning tokens only with new OpenTelemetry({ usage: true }); recorded with the defaults.
    ...(mode === 'legacy' ? {} : { not_emitted: ['tokens.reasoning'] }),
  };
});
const pkg = JSON.parse((await import('node:fs')).readFileSync('./package.json', 'utf8')).dependencies;
const pins = Object.entries(pkg).map(([k, v]) => `${k}@${v}`).join(', ');
const expected = {
  source: `Recorded with ${pins} on node ${process.versions.node}; @ai-sdk/otel ${mode === 'legacy' ? 'LegacyOpenTelemetry' : 'OpenTelemetry'} integration via registerTelemetry(), experimental_telemetry {isEnabled: true, functionId: 'weather-bot'}, global BasicTracerProvider + SimpleSpanProcessor(InMemorySpanExporter), JsonTraceSerializer. In-process MockLanguageModelV4 (provider openai.chat, model gpt-4o-mini, V4 usage: input total incl. cacheRead, output total incl. reasoning, no provider total so total = input + output): task1 = generateText, tool call get_weather(Paris) then final text; task2 = generateText, tool call get_weather(Tokyo) then doGenerate throws APICallError 500 (maxRetries 0); task3 = streamText, the same as task1 over doStream. stopWhen stepCountIs(3).`,
  tasks,
};
writeFileSync(`${outDir}/expected.json`, JSON.stringify(expected, null, 2) + '\n');
console.log(`wrote ${spans.length} spans in ${traces.length} traces to ${outDir}`);
await provider.shutdown();
process.exit(0);
