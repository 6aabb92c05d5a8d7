// fhellm gateway against the official OpenAI client (npm "openai"): models
// list, completion, chat completion, streaming, stop sequences, errors, the
// fhellm figures; the tokens equal `fhellm generate`'s for the same seed.
// Usage: node openai_client_test.mjs BUILD_DIR/fhellm   (ctest runs it)
import { spawn, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { test, after } from 'node:test';

let OpenAI;
try {
  OpenAI = (await import('openai')).default;
} catch (e) {
  console.error('the npm package "openai" is not installed in tests/gateway: run scripts/setup.sh');
  process.exit(1);
}

const fhellm = process.argv[2];
const gateways = [];

// Starts `fhellm gateway ARGS --listen 127.0.0.1:0` and resolves with its base URL.
function startGateway(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(fhellm, ['gateway', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    gateways.push(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/on (http:\/\/127\.0\.0\.1:\d+\/v1)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`gateway exited ${code}: ${out}`)));
    setTimeout(() => reject(new Error('gateway did not start: ' + out)), 60000).unref();  // must not hold the process
  });
}
after(() => gateways.forEach((g) => g.kill('SIGTERM')));

function generate(args) {
  const r = spawnSync(fhellm, ['generate', '--json', '--quiet', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const base = await startGateway(['--fhe', 'simulate', '--sessions', '2']);
const client = new OpenAI({ baseURL: base, apiKey: 'unused' });
const prompt = 'Once upon a time';

test('models list names the model', async () => {
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['stories260K']);
});

test('completion equals fhellm generate for the same seed', async () => {
  const r = await client.completions.create({ model: 'stories260K', prompt, max_tokens: 12, temperature: 0.8, seed: 7 });
  const g = generate(['-p', prompt, '-n', '12', '--temperature', '0.8', '--seed', '7', '--fhe', 'simulate']);
  assert.equal(r.choices[0].text, g.text);
  assert.equal(r.usage.completion_tokens, g.n_generated);
  assert.equal(r.usage.prompt_tokens, g.n_prompt);
  assert.equal(r.choices[0].finish_reason, g.stopped_at_eos ? 'stop' : 'length');
  assert.equal(r.fhellm.fhe, 'simulate');
  assert.ok(r.fhellm.ttft_ms > 0);
});

test('streamed completion gives the same text, a finish reason, usage and [DONE]', async () => {
  const params = { model: 'stories260K', prompt, max_tokens: 10, temperature: 0 };
  const whole = await client.completions.create(params);
  const stream = await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '', finish = null, usage = null;
  for await (const chunk of stream) {
    if (chunk.choices.length) {
      text += chunk.choices[0].text;
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, whole.choices[0].text);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 10);
});

test('chat completion, streamed and not', async () => {
  const params = { model: 'stories260K', messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: 'Lily' }], max_tokens: 8, temperature: 0 };
  const r = await client.chat.completions.create(params);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(r.choices[0].message.content.length > 0);
  assert.equal(r.usage.completion_tokens, 8);
  const stream = await client.chat.completions.create({ ...params, stream: true });
  let text = '', role = null;
  for await (const chunk of stream) {
    role = chunk.choices[0]?.delta?.role ?? role;
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.equal(role, 'assistant');
  assert.equal(text, r.choices[0].message.content);
});

test("a chat's next turn runs only what it adds to the session's cache", async () => {
  const messages = [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: 'Tom' }];
  const params = { model: 'stories260K', max_tokens: 6, temperature: 0 };
  const first = await client.chat.completions.create({ ...params, messages });
  const next = [...messages, { role: 'assistant', content: first.choices[0].message.content }, { role: 'user', content: 'And then?' }];
  const r = await client.chat.completions.create({ ...params, messages: next });
  assert.ok(r.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens, JSON.stringify(r.usage));
  assert.ok(r.usage.prompt_tokens_details.cached_tokens < r.usage.prompt_tokens);
  // simulate's rows do not depend on the rows beside them: the same reply as without the cache
  const plain = new OpenAI({ baseURL: await startGateway(['--fhe', 'simulate', '--no-prompt-cache']), apiKey: 'unused' });
  const p = await plain.chat.completions.create({ ...params, messages: next });
  assert.equal(p.usage.prompt_tokens_details.cached_tokens, 0);
  assert.equal(p.usage.prompt_tokens, r.usage.prompt_tokens);
  assert.equal(r.choices[0].message.content, p.choices[0].message.content);
});

test('two conversations in turn each keep their own session cache', async () => {
  const params = { model: 'stories260K', max_tokens: 4, temperature: 0 };
  const a = [{ role: 'user', content: 'Sam had a red ball' }];
  const b = [{ role: 'user', content: 'The little bird sang a song' }];
  const a1 = await client.chat.completions.create({ ...params, messages: a });
  const b1 = await client.chat.completions.create({ ...params, messages: b });
  const a2 = await client.chat.completions.create({ ...params, messages: [...a, { role: 'assistant', content: a1.choices[0].message.content }, { role: 'user', content: 'Then?' }] });
  const b2 = await client.chat.completions.create({ ...params, messages: [...b, { role: 'assistant', content: b1.choices[0].message.content }, { role: 'user', content: 'Then?' }] });
  // the gateway has two sessions: b1 took the one a1 did not, and each next turn found its own
  assert.ok(a2.usage.prompt_tokens_details.cached_tokens >= a1.usage.prompt_tokens, JSON.stringify(a2.usage));
  assert.ok(b2.usage.prompt_tokens_details.cached_tokens >= b1.usage.prompt_tokens, JSON.stringify(b2.usage));
});

test('stop sequences end the text before them', async () => {
  const full = await client.completions.create({ model: 'stories260K', prompt, max_tokens: 30, temperature: 0 });
  const text = full.choices[0].text;
  const stop = text.slice(text.indexOf(' ', 5), text.indexOf(' ', 5) + 4);
  const r = await client.completions.create({ model: 'stories260K', prompt, max_tokens: 30, temperature: 0, stop: [stop] });
  assert.equal(r.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(r.choices[0].finish_reason, 'stop');
});

test('errors are OpenAI error objects', async () => {
  await assert.rejects(client.completions.create({ model: 'stories260K', prompt: 'x', n: 2 }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error?.param ?? e.param, 'n');
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
                       (e) => e.status === 404);
  await assert.rejects(client.completions.create({ model: 'stories260K', prompt, max_tokens: 5000 }), (e) => e.status === 400);
});

test('execute: the fhellm object reports the encrypted traffic', async () => {
  const exec = new OpenAI({ baseURL: await startGateway(['--fhe', 'execute']), apiKey: 'unused' });
  const r = await exec.chat.completions.create({ model: 'stories260K', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, temperature: 0 });
  assert.ok(r.fhellm.bytes_up > 0 && r.fhellm.bytes_down > 0, JSON.stringify(r.fhellm));
  // The first session opens at start (its keys uploaded before the request, or by it if it came first).
  assert.ok(r.fhellm.session_key_bytes > 1e6, JSON.stringify(r.fhellm));
  assert.ok(r.fhellm.key_upload_bytes === 0 || r.fhellm.key_upload_bytes === r.fhellm.session_key_bytes);
  assert.ok(r.fhellm.server_ms > 0 && r.fhellm.ttft_ms > 0);
});
