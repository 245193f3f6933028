// Records real Genkit 1.x OpenTelemetry spans with an in-process fake model.
// Usage: node record.mjs <out_dir>   (run with NODE_PATH / cwd where node_modules lives)
import { writeFileSync } from 'node:fs';
import { genkit, z } from 'genkit';
import { enableTelemetry, flushTracing } from 'genkit/tracing';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';

const outDir = process.argv[2] || '.';
const exporter = new InMemorySpanExporter();
// Genkit's own hook: enableTelemetry() builds a NodeSDK with these extra processors.
await enableTelemetry({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

const ai = genkit({ plugins: [] });

// Ground truth, counted by the fake model / tools themselves (independent of the spans).
const truth = {}; // task -> {llm_calls, tool_calls, tools, usage[], errors}
let currentTask = null;
const T = () => (truth[currentTask] ||= { llm_calls: 0, tool_calls: 0, tools: {}, usage: [], errors: {} });

// Distinctive usage numbers per call (what the "provider" reports).
const USAGE = {
  t1c1: { inputTokens: 1234, outputTokens: 567, thoughtsTokens: 89, cachedContentTokens: 200, totalTokens: 1890 },
  t1c2: { inputTokens: 1500, outputTokens: 321, thoughtsTokens: 45, cachedContentTokens: 1000, totalTokens: 1866 },
  t2c1: { inputTokens: 777, outputTokens: 111, thoughtsTokens: 22, cachedContentTokens: 300, totalTokens: 910 },
};

ai.defineModel(
  { name: 'fake/model', label: 'Fake model', supports: { tools: true, multiturn: true } },
  async (req) => {
    const last = req.messages[req.messages.length - 1];
    const hasToolResponse = last.content.some((p) => p.toolResponse);
    const userText = req.messages.find((m) => m.role === 'user')?.content.map((p) => p.text || '').join('');
    const task2 = userText.includes('Oslo');
    T().llm_calls++;
    const u = !hasToolResponse ? (task2 ? USAGE.t2c1 : USAGE.t1c1) : USAGE.t1c2;
    T().usage.push(u);
    if (!hasToolResponse) {
      return {
        message: {
          role: 'model',
          content: [{ toolRequest: { name: task2 ? 'flakyLookup' : 'getWeather', ref: 'call_1', input: { city: task2 ? 'Oslo' : 'Paris', unit: 'celsius' } } }],
        },
        usage: u,
        finishReason: 'stop',
      };
    }
    const tr = last.content.find((p) => p.toolResponse).toolResponse;
    return {
      message: { role: 'model', content: [{ text: `The weather is ${JSON.stringify(tr.output)}.` }] },
      usage: u,
      finishReason: 'stop',
    };
  }
);

const getWeather = ai.defineTool(
  { name: 'getWeather', description: 'Get weather for a city', inputSchema: z.object({ city: z.string(), unit: z.string() }), outputSchema: z.string() },
  async ({ city, unit }) => { T().tool_calls++; T().tools.getWeather = (T().tools.getWeather || 0) + 1; return `18 degrees ${unit}, sunny in ${city}`; }
);
const flakyLookup = ai.defineTool(
  { name: 'flakyLookup', description: 'Always fails', inputSchema: z.object({ city: z.string(), unit: z.string() }), outputSchema: z.string() },
  async ({ city }) => { T().tool_calls++; T().tools.flakyLookup = (T().tools.flakyLookup || 0) + 1; T().errors.Error = 1; throw new Error(`lookup service unavailable for ${city}`); }
);

const weatherFlow = ai.defineFlow(
  { name: 'weatherFlow', inputSchema: z.string(), outputSchema: z.string() },
  async (question) => {
    const res = await ai.generate({ model: 'fake/model', prompt: question, tools: [getWeather, flakyLookup] });
    return res.text;
  }
);

currentTask = 'task1';
console.log('task1:', await weatherFlow('What is the weather in Paris?'));
currentTask = 'task2';
try {
  await weatherFlow('What is the weather in Oslo?');
  console.log('task2: unexpectedly succeeded');
} catch (e) {
  console.log('task2 error:', e.message);
}

await flushTracing();
const spans = exporter.getFinishedSpans();
const body = JSON.parse(Buffer.from(JsonTraceSerializer.serializeRequest(spans)).toString('utf8'));
writeFileSync(`${outDir}/spans.json`, JSON.stringify(body, null, 1) + '\n');
// trace id of each task = trace of its root flow span, in run order
const roots = spans.filter((s) => !s.parentSpanId).sort((a, b) => (a.startTime[0] - b.startTime[0]) || (a.startTime[1] - b.startTime[1]));
const traces = roots.map((s) => s.spanContext().traceId);
const tasks = ['task1', 'task2'].map((name, i) => {
  const t = truth[name];
  const sum = (f) => t.usage.reduce((a, u) => a + f(u), 0);
  return {
    trace_id: traces[i],
    llm_calls: t.llm_calls,
    tool_calls: t.tool_calls,
    tools: t.tools,
    tokens: {
      input: sum((u) => u.inputTokens),                       // Gemini-style: includes cachedContentTokens
      output: sum((u) => u.outputTokens + u.thoughtsTokens),  // outputTokens excludes thoughts (Gemini convention)
      cache_read: sum((u) => u.cachedContentTokens),
      reasoning: sum((u) => u.thoughtsTokens),
      total: sum((u) => u.totalTokens),
    },
    models: ['fake/model'],
    agent: 'weatherFlow',
    tool_args_recorded: true,
    errors: t.errors,
  };
});
const expected = {
  source: 'Recorded with genkit@1.42.0 (@genkit-ai/core 1.42.0, OTel sdk-trace-base 1.25.1 InMemorySpanExporter registered via enableTelemetry({spanProcessors}) from genkit/tracing, serialized with @opentelemetry/otlp-transformer 0.52.1 JsonTraceSerializer) on node 20; in-process fake model "fake/model" (ai.defineModel, Gemini-style usage: outputTokens excludes thoughtsTokens, totalTokens = input+output+thoughts) driven by flow weatherFlow: task1 = tool request getWeather then final answer, task2 = tool flakyLookup throws.',
  tasks,
};
writeFileSync(`${outDir}/expected.json`, JSON.stringify(expected, null, 2) + '\n');
console.log(`wrote ${spans.length} spans in ${traces.length} traces`);
process.exit(0);
