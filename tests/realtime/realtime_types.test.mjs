// Every Realtime client event the bridge writes, type-checked against OpenAI's own GA types:
// each sample (printed by realtime_event_samples, built from the bridge's serialisers) becomes
// an object literal typed RealtimeClientEvent from the openai package, and tsc --strict must
// accept it: a field the type does not declare is an error (TypeScript's excess property check),
// as is a wrong literal (beta `text` content on an assistant item) or a missing field. Events
// the GA types refuse are checked too, so that the check is shown to bite.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const testDir = path.dirname(fileURLToPath(import.meta.url));

function samples() {
  const binary = process.env.REALTIME_EVENT_SAMPLES;
  assert.ok(binary, 'REALTIME_EVENT_SAMPLES names the realtime_event_samples executable');
  const result = spawnSync(binary, [], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line));
}

/// tsc's errors for `events`, each typed RealtimeClientEvent: a list of {index, message}.
function typeErrors(events) {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-realtime-types-'));
  try {
    const lines = ["import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';"];
    const starts = [];
    events.forEach((event, index) => {
      starts.push(lines.length + 1);
      lines.push(`export const event${index}: RealtimeClientEvent = ${JSON.stringify(event, null, 2)};`);
    });
    const source = lines.join('\n');
    writeFileSync(path.join(dir, 'events.ts'), source + '\n');
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        module: 'esnext',
        moduleResolution: 'bundler',
        skipLibCheck: true,
        types: [],
        baseUrl: '.',
        paths: { 'openai/*': [path.join(testDir, 'node_modules/openai/*')] },
      },
      files: ['events.ts'],
    }));
    const tsc = path.join(testDir, 'node_modules/typescript/bin/tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'],
      { cwd: dir, encoding: 'utf8' });
    // Line numbers of each literal: the lines before it, counted in the generated source.
    const lineOf = [];
    let line = 2;
    for (const event of events) {
      lineOf.push(line);
      line += JSON.stringify(event, null, 2).split('\n').length;
    }
    const errors = [];
    for (const match of result.stdout.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)) {
      const at = Number(match[2]);
      const index = lineOf.findLastIndex((start) => start <= at);
      errors.push({ index, message: `${match[3]}: ${match[4]}` });
    }
    if (errors.length === 0) {
      assert.equal(result.status, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
    }
    return errors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('every client event the bridge writes, the replay of a conversation included, is a GA RealtimeClientEvent', () => {
  const events = samples();
  const types = new Set(events.map((event) => event.type));
  for (const type of ['session.update', 'input_audio_buffer.append', 'conversation.item.truncate',
    'response.cancel', 'response.create', 'conversation.item.create']) {
    assert.ok(types.has(type), `the samples hold a ${type}`);
  }
  // The replay holds every kind of item: user, assistant and system messages, a function call
  // and its output.
  const items = events.filter((event) => event.type === 'conversation.item.create').map((event) => event.item);
  for (const kind of ['message:user', 'message:assistant', 'message:system', 'function_call:', 'function_call_output:']) {
    assert.ok(items.some((item) => `${item.type}:${item.role ?? ''}` === kind), `a replayed ${kind} item`);
  }
  const errors = typeErrors(events);
  assert.deepEqual(errors.map((error) => `${JSON.stringify(events[error.index])}\n  ${error.message}`), []);
});

test('events outside the GA types are refused, so the check above can fail', () => {
  const refused = [
    // Assistant text as the beta interface typed it.
    { type: 'conversation.item.create', item: { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Hi' }] } },
    // Assistant content typed as the user's.
    { type: 'conversation.item.create', item: { type: 'message', role: 'assistant', content: [{ type: 'input_text', text: 'Hi' }] } },
    // A function call without its name.
    { type: 'conversation.item.create', item: { type: 'function_call', call_id: 'call_1', arguments: '{}' } },
    // The beta session's flat audio format.
    { type: 'session.update', session: { type: 'realtime', input_audio_format: 'g711_ulaw' } },
  ];
  const errors = typeErrors(refused);
  assert.deepEqual([...new Set(errors.map((error) => error.index))].sort(), [0, 1, 2, 3]);
});
