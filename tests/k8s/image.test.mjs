// The image, without a container engine: the runtime stage installs exactly the Debian packages
// that hold the shared libraries the executable links (readelf's NEEDED, found through ldd; plus
// the CA certificates), the build stage installs and builds with the repository's own scripts,
// the image runs `switchboard serve` as a non-root user, and a Dockerfile linter passes.
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { render, repo, run, settingNames, switchboardBinary, testDir, theOne } from './k8s_support.mjs';

const dockerfile = path.join(repo, 'Dockerfile');

/// The Dockerfile's stages, each a list of instructions {keyword, text} with continuation lines
/// joined and comments dropped.
function stages() {
  const instructions = [];
  let current = '';
  for (const line of readFileSync(dockerfile, 'utf8').split('\n')) {
    if (current === '' && /^\s*(#|$)/.test(line)) continue;
    current += line.replace(/\\$/, ' ');
    if (!line.endsWith('\\')) {
      const [, keyword, text] = /^\s*(\S+)\s*(.*)$/.exec(current);
      instructions.push({ keyword: keyword.toUpperCase(), text: text.trim() });
      current = '';
    }
  }
  const result = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') result.push([]);
    assert.ok(result.length > 0, `${instruction.keyword} before FROM`);
    result.at(-1).push(instruction);
  }
  return result;
}

function instructions(stage, keyword) {
  return stage.filter((i) => i.keyword === keyword).map((i) => i.text);
}

/// The packages a stage's `apt-get install` lines name.
function installedPackages(stage) {
  const packages = [];
  for (const text of instructions(stage, 'RUN')) {
    for (const command of text.split(/&&|;/)) {
      const words = command.trim().split(/\s+/);
      if (words[0] !== 'apt-get' || !words.includes('install')) continue;
      packages.push(...words.slice(words.indexOf('install') + 1).filter((w) => !w.startsWith('-')));
    }
  }
  return packages;
}

/// The Debian package that owns a file, trying the paths merged /usr makes equivalent.
function packageOwning(file) {
  const candidates = new Set([file, realpathSync(file)]);
  for (const candidate of [...candidates]) {
    if (candidate.startsWith('/usr/')) candidates.add(candidate.slice(4));
    else candidates.add('/usr' + candidate);
  }
  for (const candidate of candidates) {
    const owner = run('dpkg', ['-S', candidate]);
    if (owner.status === 0) return owner.stdout.split(':')[0].trim();
  }
  assert.fail(`no Debian package owns ${file} (tried ${[...candidates].join(', ')})`);
}

test('the runtime stage installs exactly the packages of the libraries the executable links, and the CA certificates', () => {
  // The libraries the executable names itself (its DT_NEEDED entries), found where ldd resolves
  // them. Their own dependencies (libcurl's nghttp2, ssh2, krb5, ...) come with their packages
  // through apt: listing those too would pin another library's choices here.
  const ldd = run('ldd', [switchboardBinary()]);
  assert.equal(ldd.status, 0, ldd.stderr);
  assert.doesNotMatch(ldd.stdout, /not found/, 'a library the executable needs is missing here');
  const resolved = new Map(
    [...ldd.stdout.matchAll(/^\s*(\S+) => (\/\S+) \(0x/gm)].map((m) => [m[1], m[2]]),
  );
  const dynamic = run('readelf', ['--dynamic', switchboardBinary()]);
  assert.equal(dynamic.status, 0, dynamic.stderr);
  const linked = [...dynamic.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  assert.ok(linked.length >= 5, `readelf listed too few libraries:\n${dynamic.stdout}`);
  const needed = new Map();
  for (const name of linked) {
    const library = resolved.get(name);
    assert.ok(library, `ldd does not resolve ${name}:\n${ldd.stdout}`);
    needed.set(packageOwning(library), library);
  }

  const runtime = stages().at(-1);
  const installed = installedPackages(runtime);
  for (const [name, library] of needed) {
    assert.ok(installed.includes(name), `the runtime stage lacks ${name} (for ${library})`);
  }
  // Nothing else: the TLS roots for wss:// to OpenAI and https:// to Twilio are the one
  // package that is no library.
  assert.deepEqual([...installed].sort(), [...needed.keys(), 'ca-certificates'].sort(),
    'the runtime stage installs packages the executable does not need');
  assert.match(runtime[0].text, /^debian:12(-slim)?$/, 'the runtime stage is Debian 12');
});

test('the build stage installs with scripts/setup and builds only the executable with scripts/build', () => {
  const [build, ...rest] = stages();
  assert.equal(rest.length, 1, 'two stages: build and runtime');
  assert.match(build[0].text, /^debian:12 AS build$/i);
  const runs = instructions(build, 'RUN');
  assert.ok(runs.some((r) => r === 'scripts/setup'), 'RUN scripts/setup');
  assert.ok(runs.some((r) => /scripts\/build switchboard(\s|$)/.test(r)), 'RUN scripts/build switchboard');
  // scripts/setup runs `npm ci` in the test folders it names: their package files must be in
  // the image before it runs (the source comes after, so a source change keeps the layer).
  const setup = readFileSync(path.join(repo, 'scripts/setup'), 'utf8');
  const npmFolders = [...setup.matchAll(/\/\.\.\/(tests\/[\w-]+)"/g)].map((m) => m[1]);
  assert.ok(npmFolders.length >= 2, 'npm folders of scripts/setup not found');
  const setupAt = build.findIndex((i) => i.keyword === 'RUN' && i.text === 'scripts/setup');
  const copiedBefore = build.slice(0, setupAt).filter((i) => i.keyword === 'COPY').map((i) => i.text);
  for (const folder of npmFolders) {
    assert.ok(copiedBefore.some((c) => c.includes(`${folder}/package.json`) && c.includes(`${folder}/package-lock.json`)),
      `${folder}'s package files are not copied before scripts/setup`);
  }
});

test('the image runs switchboard serve as a non-root user that writes only to the recordings volume and /tmp', () => {
  const runtime = stages().at(-1);
  const [user] = instructions(runtime, 'USER');
  const uid = Number(user.split(':')[0]);
  assert.ok(uid > 0, `USER ${user}: numeric and not root, so runAsNonRoot can check it`);
  const workload = theOne(render('production'), 'StatefulSet', 'switchboard');
  assert.equal(workload.spec.template.spec.securityContext.runAsUser, uid, 'the pod runs as the image user');
  assert.deepEqual(JSON.parse(instructions(runtime, 'ENTRYPOINT')[0]), ['/usr/local/bin/switchboard']);
  assert.deepEqual(JSON.parse(instructions(runtime, 'CMD')[0]), ['serve']);

  // ENV sets settings only; the one volume is RECORDINGS_DIR.
  const settings = settingNames();
  const environment = Object.fromEntries(instructions(runtime, 'ENV').map((e) => e.split('=')));
  for (const name of Object.keys(environment)) assert.ok(settings.has(name), `ENV ${name} is not a setting`);
  assert.deepEqual(JSON.parse(instructions(runtime, 'VOLUME')[0]), [environment.RECORDINGS_DIR]);
  // Its directory belongs to the user (a fresh Docker volume takes the directory's owner).
  const prepared = instructions(runtime, 'RUN').join(' && ');
  assert.match(prepared, new RegExp(`--uid ${uid}\\b`));
  assert.ok(prepared.includes(`chown switchboard:switchboard ${environment.RECORDINGS_DIR}`));

  const ignored = readFileSync(path.join(repo, '.dockerignore'), 'utf8').split('\n');
  for (const entry of ['.env', 'build*', '.git', '**/node_modules', 'recordings']) {
    assert.ok(ignored.includes(entry), `.dockerignore lacks ${entry}`);
  }
});

test('dockerfilelint passes on the Dockerfile and fails on a flawed one', () => {
  const linter = path.join(testDir, 'node_modules/dockerfilelint/bin/dockerfilelint');
  const clean = run(process.execPath, [linter, dockerfile]);
  assert.equal(clean.status, 0, `dockerfilelint:\n${clean.stdout}${clean.stderr}`);

  // The linter runs and reports: an untagged base image and apt-get without -y.
  const work = mkdtempSync(path.join(tmpdir(), 'switchboard-dockerfile-'));
  const flawed = path.join(work, 'Dockerfile');
  writeFileSync(flawed, 'FROM debian\nRUN apt-get install curl\n');
  const lint = run(process.execPath, [linter, '-o', 'json', flawed]);
  rmSync(work, { recursive: true, force: true });
  assert.notEqual(lint.status, 0);
  const titles = JSON.parse(lint.stdout).files[0].issues.map((i) => i.title);
  assert.ok(titles.includes('Base Image Missing Tag'), titles.join(', '));
});

test('as an unprivileged user in a read-only working directory, calls write only to RECORDINGS_DIR', () => {
  // What the image's read-only root filesystem asks of the executable, shown with the demo's two
  // calls (the bridge, its recorders and call.json, with the stand-ins in process): the working
  // directory and HOME are read-only, RECORDINGS_DIR is the one writable place besides /tmp. As
  // root (CI), the demo runs as nobody (setpriv), since root writes anywhere.
  const work = mkdtempSync(path.join(tmpdir(), 'switchboard-readonly-'));
  const workingDir = path.join(work, 'app');
  const recordings = path.join(work, 'recordings');
  mkdirSync(workingDir);
  mkdirSync(recordings);
  chmodSync(workingDir, 0o555);
  const asRoot = process.getuid() === 0;
  if (asRoot) {
    chmodSync(work, 0o755);
    chownSync(recordings, 65534, 65534);
  }
  const [command, args] = asRoot
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', switchboardBinary(), 'demo']]
    : [switchboardBinary(), ['demo']];
  try {
    const demo = run(command, args, {
      cwd: workingDir,
      env: { PATH: process.env.PATH, HOME: workingDir, RECORDINGS_DIR: recordings },
      timeout: 240_000,
    });
    assert.equal(demo.status, 0, `switchboard demo:\n${demo.stderr.slice(-4000)}`);
    assert.deepEqual(readdirSync(workingDir), [], 'the demo wrote into its working directory');
    const calls = readdirSync(recordings, { recursive: true }).filter((f) => f.endsWith('call.json'));
    assert.equal(calls.length, 2, `the demo's two calls recorded under RECORDINGS_DIR: ${calls}`);
  } finally {
    chmodSync(workingDir, 0o755);
    rmSync(work, { recursive: true, force: true });
  }
});
