// The S3 stand-in's own checks, with requests signed here by the AWS SDK's signer and then
// altered: each refusal S3 would give (a tampered body, a wrong Content-MD5, an unknown key, an
// expired or tampered presigned URL, no credentials) comes back, and the faults count as asked.
// The switchboard client's requests against it are in tests/net/test_s3_client.cpp.
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const credentials = { accessKeyId: 'AKIASELFTEST', secretAccessKey: 'self/test+secret' };
let standin;
let port;

before(async () => {
  standin = spawn(
    process.execPath,
    [path.join(here, 's3_standin.mjs'), '--access-key', credentials.accessKeyId, '--secret-key',
      credentials.secretAccessKey, '--region', 'eu-west-1', '--bucket', 'selftest'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: standin.stdout });
  for await (const line of lines) {
    const m = /^s3-standin listening on 127\.0\.0\.1:(\d+)$/.exec(line);
    if (m) {
      port = Number(m[1]);
      break;
    }
  }
  assert.ok(port > 0, 'the stand-in printed its port');
});

after(async () => {
  standin.kill('SIGTERM');
  const [code] = await once(standin, 'exit');
  assert.equal(code, 0, 'SIGTERM ends the stand-in cleanly');
});

function signer(keys = credentials) {
  return new SignatureV4({ credentials: keys, region: 'eu-west-1', service: 's3', sha256: Sha256, uriEscapePath: false });
}

const sha256Hex = (body) => createHash('sha256').update(body).digest('hex');

/// Signs {method, path, query, headers, body} (x-amz-content-sha256 = the body's hash unless
/// given) and returns the request to send.
async function signed({ method, path: requestPath, query = {}, headers = {}, body = '' }, keys) {
  return signer(keys).sign({
    method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port,
    path: requestPath,
    query,
    headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': sha256Hex(body), ...headers },
    body,
  });
}

async function send(request, body = request.body) {
  const query = new URLSearchParams(request.query ?? {}).toString();
  const url = `http://127.0.0.1:${port}${request.path}${query ? `?${query}` : ''}`;
  const headers = { ...request.headers };
  delete headers.host;
  const response = await fetch(url, { method: request.method, headers, body: body === '' ? undefined : body });
  return { status: response.status, text: await response.text() };
}

const code = (text) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];

test('a correctly signed PUT and GET go through to s3rver', async () => {
  const put = await send(await signed({ method: 'PUT', path: '/selftest/a.txt', body: 'hello' }));
  assert.equal(put.status, 200, put.text);
  const get = await send(await signed({ method: 'GET', path: '/selftest/a.txt' }));
  assert.equal(get.status, 200);
  assert.equal(get.text, 'hello');
});

test('a body that differs from its signed x-amz-content-sha256 is refused', async () => {
  const request = await signed({ method: 'PUT', path: '/selftest/b.txt', body: 'hello' });
  const sent = await send(request, 'HELLO');
  assert.equal(sent.status, 400);
  assert.equal(code(sent.text), 'XAmzContentSHA256Mismatch');
});

test('a Content-MD5 that does not match the body is BadDigest', async () => {
  const wrongMd5 = createHash('md5').update('other').digest('base64');
  const sent = await send(
    await signed({ method: 'PUT', path: '/selftest/c.txt', body: 'hello', headers: { 'content-md5': wrongMd5 } }),
  );
  assert.equal(sent.status, 400);
  assert.equal(code(sent.text), 'BadDigest');
});

test('a wrong secret, a changed path and an unknown key are refused', async () => {
  const wrongSecret = await send(
    await signed({ method: 'GET', path: '/selftest/a.txt' }, { ...credentials, secretAccessKey: 'nope' }),
  );
  assert.equal(wrongSecret.status, 403);
  assert.equal(code(wrongSecret.text), 'SignatureDoesNotMatch');
  const request = await signed({ method: 'GET', path: '/selftest/a.txt' });
  const moved = await send({ ...request, path: '/selftest/b.txt' });
  assert.equal(code(moved.text), 'SignatureDoesNotMatch');
  const unknown = await send(
    await signed({ method: 'GET', path: '/selftest/a.txt' }, { ...credentials, accessKeyId: 'AKIAOTHER' }),
  );
  assert.equal(code(unknown.text), 'InvalidAccessKeyId');
  const anonymous = await fetch(`http://127.0.0.1:${port}/selftest/a.txt`);
  assert.equal(anonymous.status, 403);
  assert.equal(code(await anonymous.text()), 'AccessDenied');
});

test('presigned URLs: valid, tampered and expired', async () => {
  const presign = (signingDate, expiresIn, keyPath = '/selftest/a.txt') =>
    signer().presign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port,
        path: keyPath,
        query: {},
        headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      },
      {
        signingDate,
        expiresIn,
        unhoistableHeaders: new Set(['x-amz-content-sha256']),
        unsignableHeaders: new Set(['x-amz-content-sha256']),
      },
    );
  const url = (request) => `http://127.0.0.1:${port}${request.path}?${new URLSearchParams(request.query)}`;
  const valid = await presign(new Date(), 60);
  const ok = await fetch(url(valid));
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), 'hello');
  const tampered = await fetch(url({ ...valid, path: '/selftest/b.txt' }));
  assert.equal(code(await tampered.text()), 'SignatureDoesNotMatch');
  const expired = await fetch(url(await presign(new Date(Date.now() - 3600_000), 60)));
  assert.equal(expired.status, 403);
  assert.match(await expired.text(), /Request has expired/);
});

test('faults: skip, count, then normal service; the log records them', async () => {
  await fetch(`http://127.0.0.1:${port}/__standin/reset`, { method: 'POST' });
  await fetch(`http://127.0.0.1:${port}/__standin/faults`, {
    method: 'POST',
    body: JSON.stringify({ status: 503, count: 2, skip: 1 }),
  });
  const statuses = [];
  for (let i = 0; i < 4; ++i) {
    statuses.push((await send(await signed({ method: 'GET', path: '/selftest/a.txt' }))).status);
  }
  assert.deepEqual(statuses, [200, 503, 503, 200]);
  const log = await (await fetch(`http://127.0.0.1:${port}/__standin/requests`)).json();
  assert.deepEqual(log.map((entry) => entry.fault), [false, true, true, false]);
  assert.deepEqual(log.map((entry) => entry.status), statuses);
  assert.ok(log.filter((entry) => !entry.fault).every((entry) => entry.signature_ok));
});
