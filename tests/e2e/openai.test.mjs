// The official `openai` client against `autoglm serve` over stories260K: models, completions
// (greedy output equals llama.cpp's reference), chat, streaming, errors and API keys.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { startServer } from './serve.mjs';

const reference = JSON.parse(readFileSync(process.env.AUTOGLM_REFERENCE, 'utf8')).cases[0];
const KEY = 'e2e-secret';
let server;
let client;

before(async () => {
  server = await startServer(['--api-key', KEY]);
  client = new OpenAI({ baseURL: server.baseURL, apiKey: KEY, maxRetries: 0, timeout: 60000 });
});

after(async () => {
  const code = await server.stop();
  assert.equal(code, 0, 'SIGTERM exits 0');
});

test('models.list names the served model', async () => {
  const models = await client.models.list();
  const ids = models.data.map((m) => m.id);
  assert.deepEqual(ids, ['stories260K']);
  assert.equal(models.data[0].object, 'model');
  const one = await client.models.retrieve('stories260K');
  assert.equal(one.id, 'stories260K');
});

test('greedy completion equals the reference', async () => {
  const r = await client.completions.create({
    model: 'stories260K',
    prompt: reference.prompt,
    max_tokens: reference.completion_tokens.length,
    temperature: 0,
  });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, reference.completion_text);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.prompt_tokens, reference.prompt_tokens.length);
  assert.equal(r.usage.completion_tokens, reference.completion_tokens.length);
});

test('streamed completion adds up to the same text, with usage', async () => {
  const stream = await client.completions.create({
    model: 'stories260K',
    prompt: reference.prompt,
    max_tokens: reference.completion_tokens.length,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, reference.completion_text);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, reference.completion_tokens.length);
});

test('chat completion through the chatml template', async () => {
  const r = await client.chat.completions.create({
    model: 'stories260K',
    messages: [
      { role: 'system', content: 'You are a storyteller.' },
      { role: 'user', content: 'Tell me about a cat.' },
    ],
    max_tokens: 16,
    temperature: 0,
    logprobs: true,
    top_logprobs: 2,
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(r.choices[0].message.content.length > 0);
  assert.equal(r.choices[0].logprobs.content.length, 16);
  assert.equal(r.choices[0].logprobs.content[0].top_logprobs.length, 2);
  assert.equal(r.usage.completion_tokens, 16);
});

test('streamed chat completion', async () => {
  const stream = await client.chat.completions.create({
    model: 'stories260K',
    messages: [{ role: 'user', content: 'Once upon a time' }],
    max_tokens: 10,
    temperature: 0,
    stream: true,
  });
  let content = '';
  let role = null;
  let finish = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.delta.role) role = c.delta.role;
    if (c.delta.content) content += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.equal(role, 'assistant');
  assert.ok(content.length > 0);
  assert.equal(finish, 'length');
});

test('several choices with a seed are reproducible', async () => {
  const ask = () => client.completions.create({
    model: 'stories260K', prompt: 'The dog', max_tokens: 8, temperature: 0.9, n: 2, seed: 7,
  });
  const [a, b] = [await ask(), await ask()];
  assert.equal(a.choices.length, 2);
  assert.deepEqual(a.choices.map((c) => c.text), b.choices.map((c) => c.text));
});

test('invalid requests are 400 errors naming the field', async () => {
  await assert.rejects(
    client.completions.create({ model: 'stories260K', prompt: 'x', max_tokens: -3 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'max_tokens',
  );
  await assert.rejects(
    client.chat.completions.create({ model: 'stories260K', messages: [], max_tokens: 3 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages',
  );
  await assert.rejects(
    client.completions.create({ model: 'stories260K', prompt: 'x', temperature: 9 }),
    (e) => e.status === 400 && e.param === 'temperature' && /temperature/.test(e.message),
  );
});

test('a wrong API key is refused', async () => {
  const bad = new OpenAI({ baseURL: server.baseURL, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

test('/health stays open and /metrics counts requests', async () => {
  const base = `http://127.0.0.1:${server.port}`;
  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  const metrics = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } });
  const text = await metrics.text();
  assert.match(text, /autoglm_requests_total\{endpoint="\/v1\/completions",code="200"\} \d+/);
  assert.match(text, /autoglm_kv_blocks_free \d+/);
});
