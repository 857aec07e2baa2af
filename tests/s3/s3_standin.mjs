// An S3 stand-in that checks signatures: s3rver (an S3 server on the local disk, which does not
// verify AWS Signature Version 4) behind a front server that does. Every request's signature is
// computed again, independently of the client, with @smithy/signature-v4 (the AWS SDK's signer)
// from what arrived — method, raw path, query, the headers the Authorization header lists, its
// x-amz-date and x-amz-content-sha256 — and a mismatch is answered as S3 answers it: 403
// SignatureDoesNotMatch. The body is checked against x-amz-content-sha256 and Content-MD5
// (400 XAmzContentSHA256Mismatch / BadDigest). Presigned URLs are checked in their query form.
// Only then is the request forwarded to s3rver, without its credentials. AbortMultipartUpload,
// which s3rver lacks, is answered here (204).
//
//   node s3_standin.mjs [--access-key K] [--secret-key S] [--region R] [--bucket B]
//                       [--directory DIR] [--port P] [--exit-with-stdin]
//
// Prints `s3-standin listening on 127.0.0.1:PORT` once both servers listen (port 0 = any), and
// exits on SIGTERM/SIGINT (and when stdin closes, with --exit-with-stdin). Path-style addressing
// (http://127.0.0.1:PORT/bucket/key); virtual-host style (Host: bucket.localhost:PORT) works too.
//
// Control routes, for tests (never signed, never logged):
//   POST /__standin/faults   {"status":503,"count":2}  the next 2 S3 requests get a 503 SlowDown;
//                            "count":-1 = every request; "skip":N = let N requests through first;
//                            "hang_ms":N = hold each faulted request N ms first; "status":0 with
//                            hang_ms = hang then serve normally; {} clears.
//   GET  /__standin/requests the log: [{method, path, query, signature_ok, status, error_code,
//                            signed_headers, session_token, content_md5, fault}]
//   POST /__standin/reset    clears the log and the faults.
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

function parseArguments(argv) {
  const options = {
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    region: 'us-east-1',
    bucket: 'recordings',
    directory: '',
    port: 0,
    exitWithStdin: false,
  };
  const names = {
    '--access-key': 'accessKey',
    '--secret-key': 'secretKey',
    '--region': 'region',
    '--bucket': 'bucket',
    '--directory': 'directory',
    '--port': 'port',
  };
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--exit-with-stdin') {
      options.exitWithStdin = true;
    } else if (argv[i] in names && i + 1 < argv.length) {
      options[names[argv[i]]] = argv[++i];
    } else {
      console.error(`s3-standin: unknown argument ${argv[i]}`);
      process.exit(2);
    }
  }
  options.port = Number(options.port);
  return options;
}

const options = parseArguments(process.argv.slice(2));
const ownDirectory = options.directory === '';
const directory = ownDirectory ? mkdtempSync(path.join(tmpdir(), 's3-standin-')) : options.directory;

// S3's error body (docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
function xmlEscape(text) {
  return String(text).replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
function errorXml(code, message, resource) {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' +
    `<Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>` +
    `<Resource>${xmlEscape(resource)}</Resource><RequestId>s3-standin</RequestId></Error>`
  );
}

const faultCodes = {
  400: ['InvalidRequest', 'Injected fault: invalid request.'],
  403: ['AccessDenied', 'Access Denied'],
  404: ['NoSuchBucket', 'The specified bucket does not exist'],
  429: ['SlowDown', 'Please reduce your request rate.'],
  500: ['InternalError', 'We encountered an internal error. Please try again.'],
  503: ['SlowDown', 'Please reduce your request rate.'],
};

let faults = { status: 0, count: 0, skip: 0, hangMs: 0 };
const log = [];

/// Splits a raw query string into {name: value} decoded, as the signer wants it ("uploads" and
/// "uploads=" both give ""); repeated names become arrays.
function parseQuery(raw) {
  const query = {};
  if (!raw) return query;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    const name = decodeURIComponent(equals < 0 ? part : part.slice(0, equals));
    const value = equals < 0 ? '' : decodeURIComponent(part.slice(equals + 1));
    if (name in query) query[name] = [].concat(query[name], value);
    else query[name] = value;
  }
  return query;
}

/// x-amz-date's basic ISO 8601 (20130524T000000Z) as a Date.
function amzDate(text) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text ?? '');
  if (!m) return null;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

function signer(sessionToken) {
  return new SignatureV4({
    credentials: {
      accessKeyId: options.accessKey,
      secretAccessKey: options.secretKey,
      ...(sessionToken ? { sessionToken } : {}),
    },
    region: options.region,
    service: 's3',
    sha256: Sha256,
    // S3 signs the path as sent, encoded once (no normalisation, no double encoding).
    uriEscapePath: false,
  });
}

/// {ok, status, code, message, signedHeaders, sessionToken}: the verdict on a request's
/// signature. `ok` false carries the S3 error to answer with.
async function verifySignature(request, rawPath, query, body) {
  const refuse = (status, code, message, extra = {}) => ({ ok: false, status, code, message, ...extra });
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (!m) return refuse(400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed.');
    const [, accessKey, scopeDate, region, signedList, signature] = m;
    const signedHeaders = signedList.split(';');
    const sessionToken = request.headers['x-amz-security-token'] ?? null;
    const facts = { signedHeaders, sessionToken };
    if (accessKey !== options.accessKey) {
      return refuse(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', facts);
    }
    if (region !== options.region) {
      return refuse(400, 'AuthorizationHeaderMalformed', `the region '${region}' is wrong; expecting '${options.region}'`, facts);
    }
    const signingDate = amzDate(request.headers['x-amz-date']);
    if (!signingDate || request.headers['x-amz-date'].slice(0, 8) !== scopeDate) {
      return refuse(403, 'AccessDenied', 'x-amz-date is missing or does not match the credential scope', facts);
    }
    const payloadHash = request.headers['x-amz-content-sha256'];
    if (payloadHash === undefined) {
      return refuse(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256', facts);
    }
    if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-content-sha256')) {
      return refuse(403, 'SignatureDoesNotMatch', 'host and x-amz-content-sha256 must be signed', facts);
    }
    const headers = {};
    for (const name of signedHeaders) {
      if (request.headers[name] === undefined) {
        return refuse(403, 'SignatureDoesNotMatch', `signed header ${name} is absent`, facts);
      }
      headers[name] = request.headers[name];
    }
    const expected = await signer(sessionToken).sign(
      { method: request.method, protocol: 'http:', hostname: headers.host, path: rawPath, query, headers },
      { signingDate, signableHeaders: new Set(signedHeaders) },
    );
    const expectedSignature = /Signature=([0-9a-f]{64})$/.exec(expected.headers.authorization)[1];
    const expectedSigned = /SignedHeaders=([^,]+),/.exec(expected.headers.authorization)[1];
    if (expectedSignature !== signature || expectedSigned !== signedList) {
      return refuse(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        facts,
      );
    }
    if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== createHash('sha256').update(body).digest('hex')) {
      return refuse(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", facts);
    }
    return { ok: true, ...facts };
  }

  if (query['X-Amz-Algorithm'] !== undefined) {
    // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
    const m = /^([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request$/.exec(query['X-Amz-Credential'] ?? '');
    const signedHeaders = String(query['X-Amz-SignedHeaders'] ?? '').split(';');
    const sessionToken = query['X-Amz-Security-Token'] ?? null;
    const facts = { signedHeaders, sessionToken };
    if (query['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256' || !m) {
      return refuse(400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm or X-Amz-Credential is malformed.', facts);
    }
    if (m[1] !== options.accessKey) {
      return refuse(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', facts);
    }
    const signingDate = amzDate(query['X-Amz-Date']);
    const expiresIn = Number(query['X-Amz-Expires']);
    if (!signingDate || !(expiresIn > 0 && expiresIn <= 604800)) {
      return refuse(400, 'AuthorizationQueryParametersError', 'X-Amz-Date or X-Amz-Expires is malformed.', facts);
    }
    if (Date.now() > signingDate.getTime() + expiresIn * 1000) {
      return refuse(403, 'AccessDenied', 'Request has expired', facts);
    }
    const headers = {};
    for (const name of signedHeaders) {
      if (request.headers[name] === undefined) {
        return refuse(403, 'SignatureDoesNotMatch', `signed header ${name} is absent`, facts);
      }
      headers[name] = request.headers[name];
    }
    // The payload of a presigned URL is UNSIGNED-PAYLOAD; the header carries that to the signer
    // and stays out of the query and of the signed headers.
    headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    const unsigned = { ...query };
    for (const name of [
      'X-Amz-Algorithm',
      'X-Amz-Credential',
      'X-Amz-Date',
      'X-Amz-Expires',
      'X-Amz-SignedHeaders',
      'X-Amz-Signature',
      'X-Amz-Security-Token',
    ]) {
      delete unsigned[name];
    }
    const expected = await signer(sessionToken).presign(
      { method: request.method, protocol: 'http:', hostname: headers.host, path: rawPath, query: unsigned, headers },
      {
        signingDate,
        expiresIn,
        unhoistableHeaders: new Set(['x-amz-content-sha256']),
        unsignableHeaders: new Set(['x-amz-content-sha256']),
      },
    );
    if (
      expected.query['X-Amz-Signature'] !== query['X-Amz-Signature'] ||
      expected.query['X-Amz-SignedHeaders'] !== query['X-Amz-SignedHeaders']
    ) {
      return refuse(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        facts,
      );
    }
    return { ok: true, ...facts };
  }

  return refuse(403, 'AccessDenied', 'Anonymous access is forbidden for this operation', {
    signedHeaders: [],
    sessionToken: null,
  });
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function answer(response, status, body, type = 'application/json') {
  response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

async function control(request, response, route, body) {
  if (request.method === 'GET' && route === '/__standin/requests') {
    return answer(response, 200, JSON.stringify(log));
  }
  if (request.method === 'POST' && route === '/__standin/faults') {
    let wanted;
    try {
      wanted = JSON.parse(body.toString() || '{}');
    } catch {
      return answer(response, 400, JSON.stringify({ error: 'faults: not JSON' }));
    }
    faults = {
      status: Number(wanted.status ?? 0),
      count: Number(wanted.count ?? (wanted.status || wanted.hang_ms ? 1 : 0)),
      skip: Number(wanted.skip ?? 0),
      hangMs: Number(wanted.hang_ms ?? 0),
    };
    return answer(response, 200, JSON.stringify(faults));
  }
  if (request.method === 'POST' && route === '/__standin/reset') {
    log.length = 0;
    faults = { status: 0, count: 0, skip: 0, hangMs: 0 };
    return answer(response, 200, '{}');
  }
  return answer(response, 404, JSON.stringify({ error: `no control route ${request.method} ${route}` }));
}

/// The fault this request gets, if any (and counts it).
function takeFault() {
  if (faults.count === 0) return null;
  if (faults.skip > 0) {
    --faults.skip;
    return null;
  }
  if (faults.count > 0) --faults.count;
  return { status: faults.status, hangMs: faults.hangMs };
}

let s3rverPort = 0;

async function handle(request, response) {
  const [rawPath, rawQuery = ''] = request.url.split(/\?(.*)/s);
  const body = await readBody(request);
  if (rawPath.startsWith('/__standin/')) return control(request, response, rawPath, body);

  const entry = {
    method: request.method,
    path: rawPath,
    query: rawQuery,
    signature_ok: false,
    status: 0,
    error_code: null,
    signed_headers: [],
    session_token: null,
    content_md5: request.headers['content-md5'] ?? null,
    fault: false,
  };
  log.push(entry);
  const fail = (status, code, message) => {
    entry.status = status;
    entry.error_code = code;
    answer(response, status, errorXml(code, message, rawPath), 'application/xml');
  };

  const fault = takeFault();
  if (fault) {
    entry.fault = true;
    if (fault.hangMs > 0) await new Promise((resolve) => setTimeout(resolve, fault.hangMs));
    if (fault.status !== 0) {
      const [code, message] = faultCodes[fault.status] ?? ['InternalError', 'Injected fault.'];
      return fail(fault.status, code, message);
    }
  }

  const query = parseQuery(rawQuery);
  let verdict;
  try {
    verdict = await verifySignature(request, rawPath, query, body);
  } catch (error) {
    verdict = { ok: false, status: 400, code: 'InvalidRequest', message: `cannot verify: ${error}` };
  }
  entry.signature_ok = verdict.ok;
  entry.signed_headers = verdict.signedHeaders ?? [];
  entry.session_token = verdict.sessionToken ?? null;
  if (!verdict.ok) return fail(verdict.status, verdict.code, verdict.message);

  const contentMd5 = request.headers['content-md5'];
  if (contentMd5 !== undefined && contentMd5 !== createHash('md5').update(body).digest('base64')) {
    return fail(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }

  // s3rver has no AbortMultipartUpload (it answers 405): answer as S3 does. Its stored parts
  // stay on disk, unreachable, until the stand-in's directory goes.
  if (request.method === 'DELETE' && 'uploadId' in query) {
    entry.status = 204;
    response.writeHead(204);
    return response.end();
  }

  // Forward without credentials (s3rver would check them against its own keys), with the
  // bucket in the path for virtual-host requests.
  let forwardPath = rawPath;
  const host = String(request.headers.host ?? '').replace(/:\d+$/, '');
  if (host.startsWith(`${options.bucket}.`)) forwardPath = `/${options.bucket}${rawPath}`;
  const forwardQuery = rawQuery
    .split('&')
    .filter((part) => part !== '' && !/^X-Amz-/i.test(part))
    .join('&');
  const headers = { ...request.headers };
  delete headers.authorization;
  delete headers['x-amz-security-token'];
  delete headers['transfer-encoding'];
  headers.host = `127.0.0.1:${s3rverPort}`;
  headers['content-length'] = String(body.length);
  // s3rver tells S3 API requests from website requests by an x-amz-* header.
  headers['x-amz-content-sha256'] ??= 'UNSIGNED-PAYLOAD';

  const upstream = http.request(
    {
      host: '127.0.0.1',
      port: s3rverPort,
      method: request.method,
      path: forwardQuery ? `${forwardPath}?${forwardQuery}` : forwardPath,
      headers,
    },
    (reply) => {
      entry.status = reply.statusCode;
      response.writeHead(reply.statusCode, reply.headers);
      reply.pipe(response);
    },
  );
  upstream.on('error', (error) => {
    if (!response.headersSent) fail(500, 'InternalError', `s3rver: ${error.message}`);
    else response.destroy();
  });
  upstream.end(body);
}

const backend = new S3rver({
  port: 0,
  address: '127.0.0.1',
  silent: true,
  directory,
  configureBuckets: [{ name: options.bucket }],
});
const backendAddress = await backend.run();
s3rverPort = backendAddress.port;

const front = http.createServer((request, response) => {
  handle(request, response).catch((error) => {
    if (!response.headersSent) answer(response, 500, errorXml('InternalError', String(error), request.url), 'application/xml');
    else response.destroy();
  });
});
front.listen(options.port, '127.0.0.1', () => {
  console.log(`s3-standin listening on 127.0.0.1:${front.address().port}`);
});

function shutdown() {
  front.close();
  front.closeAllConnections?.();
  backend.close().finally(() => {
    if (ownDirectory) rmSync(directory, { recursive: true, force: true });
    process.exit(0);
  });
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (options.exitWithStdin) {
  process.stdin.on('end', shutdown);
  process.stdin.resume();
}
