// Serving benchmarks against a running `autoglm serve` (the acceptance figures of issue 4):
//
//   node bench.mjs concurrency --url URL [--clients 16] [--requests 48] [--max-tokens 64]
//       aggregate generated tokens/s with 1 client, then with N clients; prints the ratio.
//   node bench.mjs priority --url URL [--load 32] [--probes 8]
//       time to first token of priority-1 requests idle, then under saturating priority-2 load
//       (the server needs --priority-levels 2); prints the ratio.
//   node bench.mjs prefix --url URL [--tokens 1000] [--reps 3]
//       time to first token of an (N+8)-token prompt, then of the same N tokens with a new ending
//       (served from the prefix cache); medians over reps, prints the ratio.
//
// --key K sends "Authorization: Bearer K". Output: one JSON object per scenario on stdout.
const args = process.argv.slice(2);
const scenario = args[0];
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const url = opt('url', 'http://127.0.0.1:8080');
const key = opt('key', process.env.AUTOGLM_API_KEY || '');
const headers = { 'Content-Type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}) };

// One streamed completion: time to the first text, generated tokens, total time.
async function complete(body) {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttft = null;
  let tokens = 0;
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const part of res.body) {
    buffer += decoder.decode(part, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const chunk = JSON.parse(event.slice(6));
      if (chunk.error) throw new Error(chunk.error.message);
      if (ttft === null && chunk.choices?.length) ttft = performance.now() - t0;
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  return { ttft, tokens, ms: performance.now() - t0 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const words = 'the a little dog cat sun tree house ran jumped happy big red blue said went saw played'.split(' ');
const text = (n, seed) => {
  let x = seed;
  const out = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push(words[x % words.length]);
  }
  return out.join(' ');
};

async function concurrency() {
  const clients = Number(opt('clients', 16));
  const requests = Number(opt('requests', 48));
  const maxTokens = Number(opt('max-tokens', 64));
  const run = async (n) => {
    let next = 0;
    let tokens = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, async () => {
      for (let i = next++; i < requests; i = next++) {
        const r = await complete({ prompt: `Once upon a time ${text(8, i)}`, max_tokens: maxTokens,
          temperature: 0.8, seed: i, ignore_eos: true });
        tokens += r.tokens;
      }
    }));
    return tokens / ((performance.now() - t0) / 1000);
  };
  await complete({ prompt: 'warm up', max_tokens: 4 });
  const single = await run(1);
  const many = await run(clients);
  return { scenario: 'concurrency', clients, requests, max_tokens: maxTokens, tok_s_1_client: single,
    tok_s_n_clients: many, ratio: many / single };
}

async function priority() {
  const load = Number(opt('load', 32));
  const probes = Number(opt('probes', 8));
  const probe = async () => {
    const ttfts = [];
    for (let i = 0; i < probes; i++) {
      const r = await complete({ prompt: `Once upon a time ${text(16, 1000 + i)}`, max_tokens: 1, priority: 1 });
      ttfts.push(r.ttft);
    }
    return median(ttfts);
  };
  await complete({ prompt: 'warm up', max_tokens: 4 });
  const idle = await probe();
  let stop = false;
  let background = 0;
  const loaders = Array.from({ length: load }, async (_, c) => {
    for (let i = 0; !stop; i++) {
      try {
        await complete({ prompt: `The little dog ${text(64, c * 100 + i)}`, max_tokens: 64, priority: 2,
          ignore_eos: true, seed: i });
        background++;
      } catch (e) {
        if (!/429/.test(e.message)) throw e;
      }
    }
  });
  await new Promise((r) => setTimeout(r, 1000));  // let the load saturate the engine
  const loaded = await probe();
  stop = true;
  await Promise.all(loaders);
  return { scenario: 'priority', load_clients: load, probes, ttft_idle_ms: idle, ttft_loaded_ms: loaded,
    ratio: loaded / idle, background_requests: background };
}

async function prefix() {
  // The prompt is given as token ids (OpenAI's completions accept them), so its length is exact
  // whatever the vocabulary: ids 3..502 exist in every model we test (stories260K has 512).
  const n = Number(opt('tokens', 1000));
  const reps = Number(opt('reps', 3));
  const ids = (count, seed) => {
    let x = seed;
    return Array.from({ length: count }, () => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return 3 + (x % 500);
    });
  };
  await complete({ prompt: 'warm up', max_tokens: 4 });
  const firsts = [];
  const repeats = [];
  for (let r = 0; r < reps; r++) {
    const base = ids(n, 7 + r);  // a new file each repetition: the first request is a cache miss
    firsts.push((await complete({ prompt: [...base, ...ids(8, 100 + r)], max_tokens: 1 })).ttft);
    repeats.push((await complete({ prompt: [...base, ...ids(8, 200 + r)], max_tokens: 1 })).ttft);
  }
  const first = median(firsts);
  const repeat = median(repeats);
  return { scenario: 'prefix', prompt_tokens: n + 8, reps, ttft_first_ms: first, ttft_repeat_ms: repeat,
    ratio: repeat / first };
}

const scenarios = { concurrency, priority, prefix };
if (!scenarios[scenario]) {
  console.error('usage: node bench.mjs concurrency|priority|prefix --url URL [options] (see the header)');
  process.exit(2);
}
console.log(JSON.stringify(await scenarios[scenario]()));
