// End to end: `lfm2 serve` driven by the official `openai` npm client (v4, installed into a temp
// dir by this test) on a small generated LFM2-MoE model with the LFM2 tokenizer and chat template.
// Covers: models.list, chat completion (shape, usage), streaming with include_usage (same text as
// non-streaming), API-key auth (401), OpenAI-style 400s, a json_schema response that validates,
// a tool-call round trip (the random model is steered into emitting a call with logit_bias +
// presence_penalty, so the call parsing, finish_reason "tool_calls", streaming tool_calls and
// the template rendering of tools / calls / results are exercised deterministically; a named
// tool_choice forces the call's start), legacy
// completions, 4 concurrent seeded streams equal to the same requests run one at a time (and
// batched: fewer forward passes than tokens), a second chat turn reported >= 90% cached, and a
// client abort freeing its slot.
//
// usage: node e2e_openai.mjs LFM2_BINARY SHARED_DIR SOURCE_DIR
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const [lfm2, shared, source] = process.argv.slice(2).map((p) => path.resolve(p));
const python = process.env.LFM2_PYTHON || '/usr/bin/python3';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lfm2-e2e-'));
const failures = [];
function check(condition, message) {
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${message}`);
  if (!condition) failures.push(message);
}

function makeModel() {
  const model = path.join(work, 'model');
  const made = spawnSync(python, [path.join(source, 'tools', 'make_test_model.py'), '--out', model, '--preset',
    'tiny-moe', '--bits', '4', '--vocab-size', '7808', '--seed', '5', '--quiet'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`make_test_model.py failed: ${made.stderr}`);
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
    fs.copyFileSync(path.join(shared, 'golden', 'tokenizer', name), path.join(model, name));
  }
  fs.copyFileSync(path.join(shared, 'golden', 'chat', 'templates', 'LFM2-8B-A1B.jinja'),
                  path.join(model, 'chat_template.jinja'));
  return model;
}

function installOpenAI() {
  const dir = path.join(work, 'npm');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"lfm2-e2e","private":true}');
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', 'openai@4'],
                        { cwd: dir, encoding: 'utf8', timeout: 300000 });
  if (npm.status !== 0) throw new Error(`npm install openai@4 failed: ${npm.stderr || npm.error}`);
  const require = createRequire(path.join(dir, 'package.json'));
  return require('openai');
}

async function startServer(model, extra) {
  const child = spawn(lfm2, ['serve', '--model', model, '--port', '0', '-t', '1', ...extra],
                      { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start in 60 s')), 60000);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
    lines.on('line', (line) => {
      const match = line.match(/listening on (http:\/\/\S+)/);
      if (match) { clearTimeout(timer); resolve(match[1]); }
    });
  });
  return { child, url };
}

async function raw(url, route, body, key = 'test-key') {
  const response = await fetch(url + route, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* metrics are text */ }
  return { status: response.status, json, text };
}

async function metric(url, name) {
  const { text } = await raw(url, '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

// A validator for the subset of JSON Schema the test schema uses.
function validate(schema, value, where = '$') {
  const errors = [];
  const type = schema.type;
  if (type === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${where}: not an object`];
    for (const key of schema.required || []) if (!(key in value)) errors.push(`${where}: missing ${key}`);
    for (const [key, item] of Object.entries(value)) {
      if (schema.properties && key in schema.properties) errors.push(...validate(schema.properties[key], item, `${where}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${where}: extra key ${key}`);
    }
  } else if (type === 'array') {
    if (!Array.isArray(value)) return [`${where}: not an array`];
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${where}: too few items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${where}: too many items`);
    value.forEach((item, i) => errors.push(...validate(schema.items || {}, item, `${where}[${i}]`)));
  } else if (type === 'string') {
    if (typeof value !== 'string') return [`${where}: not a string`];
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength) errors.push(`${where}: too long`);
  } else if (type === 'integer') {
    if (!Number.isInteger(value)) return [`${where}: not an integer`];
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${where}: below minimum`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${where}: above maximum`);
  } else if (type === 'boolean') {
    if (typeof value !== 'boolean') errors.push(`${where}: not a boolean`);
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) errors.push(`${where}: not in enum`);
  return errors;
}

async function collectStream(stream) {
  let text = '', usage = null, finish = null, role = null;
  const toolCalls = [];
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.delta?.role) role = choice.delta.role;
      if (choice.delta?.content) text += choice.delta.content;
      if (choice.text) text += choice.text;
      for (const call of choice.delta?.tool_calls || []) {
        const entry = (toolCalls[call.index] ||= { id: '', name: '', arguments: '' });
        if (call.id) entry.id = call.id;
        if (call.function?.name) entry.name += call.function.name;
        if (call.function?.arguments) entry.arguments += call.function.arguments;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { text, usage, finish, role, toolCalls };
}

async function main() {
  const model = makeModel();
  const { OpenAI, AuthenticationError, BadRequestError } = installOpenAI();
  const { child, url } = await startServer(model, ['--parallel', '4', '--ctx', '2048', '--api-key', 'test-key']);
  try {
    const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'test-key', maxRetries: 0, timeout: 120000 });
    const user = (content) => [{ role: 'user', content }];

    const models = await client.models.list();
    check(models.data.length === 1 && models.data[0].object === 'model', `models.list: ${models.data[0]?.id}`);

    // Chat completion: shape and usage.
    const chat = await client.chat.completions.create({ model: 'lfm2', messages: user('Hello there'), max_tokens: 12, seed: 3, temperature: 1 });
    const usage = chat.usage;
    check(chat.object === 'chat.completion' && chat.choices[0].message.role === 'assistant' &&
          typeof chat.choices[0].message.content === 'string', 'chat completion shape');
    check(['stop', 'length'].includes(chat.choices[0].finish_reason), `finish_reason ${chat.choices[0].finish_reason}`);
    check(usage.prompt_tokens > 0 && usage.completion_tokens > 0 && usage.completion_tokens <= 12 &&
          usage.total_tokens === usage.prompt_tokens + usage.completion_tokens &&
          typeof usage.prompt_tokens_details.cached_tokens === 'number', `usage ${JSON.stringify(usage)}`);

    // Streaming with usage: same text as non-streaming for the same seed.
    const streamed = await collectStream(await client.chat.completions.create({
      model: 'lfm2', messages: user('Hello there'), max_tokens: 12, seed: 3, temperature: 1, stream: true,
      stream_options: { include_usage: true } }));
    check(streamed.role === 'assistant' && streamed.text === chat.choices[0].message.content,
          'streamed text equals the non-streamed text for the same seed');
    check(streamed.usage && streamed.usage.completion_tokens === usage.completion_tokens, 'stream usage chunk');
    check(streamed.finish === chat.choices[0].finish_reason, 'stream finish_reason');

    // Errors in OpenAI's shape.
    try {
      await new OpenAI({ baseURL: url + '/v1', apiKey: 'wrong', maxRetries: 0 }).models.list();
      check(false, 'wrong API key rejected');
    } catch (e) { check(e instanceof AuthenticationError && e.status === 401, 'wrong API key -> 401'); }
    try {
      await client.chat.completions.create({ model: 'lfm2', messages: user('x'), temperature: 'hot' });
      check(false, 'bad temperature rejected');
    } catch (e) {
      check(e instanceof BadRequestError && e.status === 400 && e.param === 'temperature' &&
            e.type === 'invalid_request_error', `400 with param: ${e.message}`);
    }
    try {
      await client.chat.completions.create({ model: 'lfm2', messages: user('x'), max_tokens: 100000 });
      check(false, 'max_tokens beyond the context rejected');
    } catch (e) { check(e.status === 400 && e.param === 'max_tokens', `context overflow -> 400: ${e.message}`); }

    // Structured output.
    const schema = { type: 'object', properties: {
      name: { type: 'string', maxLength: 16 }, age: { type: 'integer', minimum: 0, maximum: 120 },
      member: { type: 'boolean' }, tags: { type: 'array', items: { enum: ['red', 'green', 'blue'] }, minItems: 1, maxItems: 3 } },
      required: ['name', 'age', 'tags'], additionalProperties: false };
    for (const seed of [1, 2, 3]) {
      const structured = await client.chat.completions.create({ model: 'lfm2', messages: user('A person as JSON'),
        seed, temperature: 1, max_tokens: 200,
        response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } } });
      const content = structured.choices[0].message.content;
      let parsed = null;
      try { parsed = JSON.parse(content); } catch { /* reported below */ }
      const errors = parsed === null ? ['does not parse'] : validate(schema, parsed);
      check(errors.length === 0 && structured.choices[0].finish_reason === 'stop',
            `json_schema output validates (seed ${seed}): ${content} ${errors.join('; ')}`);
    }
    const objectOnly = await client.chat.completions.create({ model: 'lfm2', messages: user('JSON please'), seed: 4,
      max_tokens: 300, temperature: 0.2, response_format: { type: 'json_object' } });
    {
      const c = objectOnly.choices[0];
      let ok = false;
      try { ok = c.finish_reason === 'length' || typeof JSON.parse(c.message.content) === 'object'; } catch { ok = false; }
      check(ok, `json_object output parses (or was cut by max_tokens): ${c.finish_reason}`);
    }

    // Tool calls. The tools appear in the rendered prompt.
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    const question = user('How is it outside today?');
    const rendered = await raw(url, '/apply-template', { messages: question, tools });
    check(rendered.status === 200 && rendered.json.prompt.includes('<|tool_list_start|>[{"type": "function"'),
          'tools are rendered through the chat template');
    // Steer the random model into writing a call: each token of the call text gets a large bias,
    // decreasing along the text; a presence penalty larger than the biases removes a token once
    // used, so greedy decoding spells the call token by token and then ends the turn.
    const callText = '<|tool_call_start|>[get_weather(city="Paris")]<|tool_call_end|>';
    const callIds = (await raw(url, '/tokenize', { content: callText })).json.tokens;
    const promptIds = (await raw(url, '/tokenize', { content: rendered.json.prompt })).json.tokens;
    const tail = new Set(promptIds.slice(-20));
    check(new Set(callIds).size === callIds.length && callIds.every((id) => !tail.has(id)),
          `the call's ${callIds.length} tokens are distinct and not in the prompt's last 20 tokens`);
    const logitBias = {};
    callIds.forEach((id, i) => { logitBias[id] = 1000 - 50 * i; });
    const imEnd = (await raw(url, '/tokenize', { content: '<|im_end|>' })).json.tokens[0];
    logitBias[imEnd] = 1000 - 50 * callIds.length;
    const steer = { temperature: 0, presence_penalty: 2000, repetition_penalty: 1, logit_bias: logitBias, max_tokens: 40 };
    const called = await client.chat.completions.create({ model: 'lfm2', messages: question, tools, ...steer });
    const call = called.choices[0].message.tool_calls?.[0];
    check(called.choices[0].finish_reason === 'tool_calls' && call?.type === 'function' &&
          call.function.name === 'get_weather' && JSON.parse(call.function.arguments).city === 'Paris' &&
          typeof call.id === 'string' && call.id.length > 0,
          `tool call parsed: ${JSON.stringify(called.choices[0].message)}`);
    const streamedCall = await collectStream(await client.chat.completions.create({
      model: 'lfm2', messages: question, tools, ...steer, stream: true }));
    check(streamedCall.finish === 'tool_calls' && streamedCall.toolCalls.length === 1 &&
          streamedCall.toolCalls[0].name === 'get_weather' &&
          JSON.parse(streamedCall.toolCalls[0].arguments || '{}').city === 'Paris' && !streamedCall.text.includes('tool_call'),
          `streamed tool call: ${JSON.stringify(streamedCall.toolCalls)}`);
    const noTools = await client.chat.completions.create({ model: 'lfm2', messages: question, tools, tool_choice: 'none', ...steer });
    check(noTools.choices[0].finish_reason === 'stop' && !noTools.choices[0].message.tool_calls &&
          noTools.choices[0].message.content.includes('get_weather'), 'tool_choice none: the call stays text');
    // tool_choice naming the function: the reply is made to start with the call, the model
    // only writes the arguments (steered the same way).
    const argsText = 'city="Paris")]<|tool_call_end|>';
    const argIds = (await raw(url, '/tokenize', { content: argsText })).json.tokens;
    const namedBias = {};
    argIds.forEach((id, i) => { namedBias[id] = 1000 - 50 * i; });
    namedBias[imEnd] = 1000 - 50 * argIds.length;
    const named = await client.chat.completions.create({ model: 'lfm2', messages: question, tools,
      tool_choice: { type: 'function', function: { name: 'get_weather' } }, ...steer, logit_bias: namedBias });
    const namedCall = named.choices[0].message.tool_calls?.[0];
    check(named.choices[0].finish_reason === 'tool_calls' && namedCall?.function.name === 'get_weather' &&
          JSON.parse(namedCall.function.arguments).city === 'Paris',
          `tool_choice {function: get_weather} forces the call: ${JSON.stringify(named.choices[0].message)}`);
    // Round trip: the call and its result go back; the template renders both.
    const followUp = [...question, called.choices[0].message,
      { role: 'tool', tool_call_id: call?.id || 'x', content: '{"temperature_c": 21, "sky": "clear"}' }];
    const renderedFollowUp = await raw(url, '/apply-template', { messages: followUp, tools });
    check(renderedFollowUp.status === 200 &&
          renderedFollowUp.json.prompt.includes('<|im_start|>assistant\n<|tool_call_start|>[get_weather(city="Paris")]<|tool_call_end|><|im_end|>') &&
          renderedFollowUp.json.prompt.includes('<|tool_response_start|>{"temperature_c": 21, "sky": "clear"}<|tool_response_end|>'),
          'the assistant call and the tool result render through the template');
    const answer = await client.chat.completions.create({ model: 'lfm2', messages: followUp, tools, max_tokens: 8, seed: 1 });
    check(typeof answer.choices[0].message.content === 'string' && answer.usage.prompt_tokens > promptIds.length,
          'tool result round trip answered');

    // Legacy completions.
    const completion = await client.completions.create({ model: 'lfm2', prompt: 'Once upon a time', max_tokens: 6, seed: 2 });
    check(completion.object === 'text_completion' && typeof completion.choices[0].text === 'string' &&
          completion.usage.completion_tokens <= 6, 'completions');
    const completionStream = await collectStream(await client.completions.create({
      model: 'lfm2', prompt: 'Once upon a time', max_tokens: 6, seed: 2, stream: true }));
    check(completionStream.text === completion.choices[0].text, 'streamed completion equals non-streamed');

    // 4 concurrent seeded streams == the same requests one at a time.
    const requests = ['Tell me about the sea', 'Count to ten', 'Why is the sky blue?', 'Write a haiku about rust']
      .map((content, i) => ({ model: 'lfm2', messages: user(content), seed: 40 + i, temperature: 1, min_p: 0,
                              max_tokens: 24 + 4 * i, stream: true, stream_options: { include_usage: true } }));
    const sequential = [];
    for (const request of requests) sequential.push(await collectStream(await client.chat.completions.create(request)));
    const passesBefore = await metric(url, 'lfm2_forward_passes_total');
    const concurrent = await Promise.all(requests.map(async (r) => collectStream(await client.chat.completions.create(r))));
    const passes = (await metric(url, 'lfm2_forward_passes_total')) - passesBefore;
    const tokens = concurrent.reduce((sum, r) => sum + r.usage.completion_tokens, 0);
    check(concurrent.every((r, i) => r.text === sequential[i].text && r.usage.completion_tokens === sequential[i].usage.completion_tokens),
          '4 concurrent seeded streams equal the same requests run one at a time');
    check(passes < tokens, `the concurrent streams were batched: ${passes} forward passes for ${tokens} tokens`);

    // A second chat turn reuses the first turn's cache.
    const system = { role: 'system', content: 'You are a helpful assistant. '.repeat(30) + 'Answer briefly.' };
    const turn1 = [system, ...user('What is the capital of France?')];
    const first = await client.chat.completions.create({ model: 'lfm2', messages: turn1, max_tokens: 8, seed: 5 });
    const turn2 = [...turn1, first.choices[0].message, ...user('And of Spain?')];
    const second = await client.chat.completions.create({ model: 'lfm2', messages: turn2, max_tokens: 8, seed: 6 });
    const cached = second.usage.prompt_tokens_details.cached_tokens, prompt = second.usage.prompt_tokens;
    check(cached >= 0.9 * prompt, `second turn: ${cached} of ${prompt} prompt tokens cached (${(100 * cached / prompt).toFixed(1)}%)`);

    // A client that goes away frees its slot.
    const controller = new AbortController();
    const long = await client.chat.completions.create({ model: 'lfm2', messages: user('Go on forever'), max_tokens: 1500,
      stream: true, logit_bias: { [imEnd]: -100 } }, { signal: controller.signal });
    let chunks = 0;
    try {
      for await (const chunk of long) { if (++chunks === 3) controller.abort(); }
    } catch { /* aborted */ }
    let idle = false;
    for (let i = 0; i < 100 && !idle; ++i) {
      const health = await raw(url, '/health');
      idle = health.json.slots_processing === 0;
      if (!idle) await new Promise((r) => setTimeout(r, 50));
    }
    check(idle, 'an aborted stream frees its slot');
    check((await raw(url, '/health', undefined, 'none')).status === 200, '/health needs no key');
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.on('exit', resolve));
  }
  fs.rmSync(work, { recursive: true, force: true });
}

main().then(() => {
  console.log(failures.length ? `\n${failures.length} FAILED` : '\nall passed');
  process.exit(failures.length ? 1 : 0);
}, (error) => {
  console.error(error);
  process.exit(1);
});
