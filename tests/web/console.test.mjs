// The web console in a real browser: `switchboard demo --console` as a child process (the bridge,
// the model stand-in and the Twilio REST stand-in), Debian's chromium driven by playwright-core.
// An operator's session: a wrong token and a refused number shown in words, a call dialled from
// the form that appears live with its Twilio status, its transcript growing, hung up from the
// page, then found among the recent calls with recordings that play and download.
//
// Every wait is Playwright's auto-waiting (a locator polled until it matches); the timeouts are
// upper bounds for a slow machine, never pauses. Screenshots go to $SWITCHBOARD_SCREENSHOT_DIR.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';

import { chromium } from 'playwright-core';

const binary = process.env.SWITCHBOARD_BINARY;
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const screenshotDir = process.env.SWITCHBOARD_SCREENSHOT_DIR || tmpdir();
// Without the background-networking flags chromium keeps trying hosts this machine cannot reach.
const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const patience = { timeout: 60_000 };
const callee = '+14155550123';

/// Starts the demo in `workDir` (its recordings go there, and no .env is read from the
/// repository). `ready` is the console's URL and token from its first line; `stop()` sends
/// SIGTERM (SIGKILL after 20 s) and resolves with how the process ended, once reaped.
function startDemo(workDir) {
  assert.ok(binary, 'SWITCHBOARD_BINARY must name the switchboard executable');
  // A clean environment: no OPENAI_API_KEY (the real model would answer, at a cost), no PORT.
  // MAX_LOOP_LAG_MS=0, as in every test that runs nodes as processes: next to the other tests
  // and chromium on a two-core machine the io threads do run late, and the node would rightly
  // refuse the dial as overloaded; this test is about the console, not load shedding.
  const child = spawn(binary, ['demo', '--console', '--port', '0'], {
    cwd: workDir,
    env: { PATH: process.env.PATH, HOME: workDir, LOG_LEVEL: 'info', MAX_LOOP_LAG_MS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-64 * 1024);
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const ready = new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      const match = /^console: (http:\/\/\S+) token: (\S+)$/.exec(line);
      if (match) resolve({ url: match[1], token: match[2] });
      else reject(new Error(`unexpected first line from the demo: ${line}`));
    });
    child.on('error', reject);
    exited.then(({ code, signal }) =>
      reject(new Error(`the demo exited (${code ?? signal}) before its console line:\n${stderr}`)));
  });
  let stopping = null;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        const result = await exited;
        clearTimeout(killer);
        return result;
      }
      return exited;
    })();
    return stopping;
  };
  return { ready, stop, log: () => stderr };
}

test('an operator dials, watches the call live, hangs it up and gets its recordings',
  { timeout: 240_000 }, async () => {
    const work = await mkdtemp(path.join(tmpdir(), 'switchboard-console-'));
    const demo = startDemo(work);
    let context = null;
    try {
      const { url, token } = await demo.ready;
      context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
        executablePath: chromiumPath,
        headless: true,
        args: chromiumFlags,
        viewport: { width: 1280, height: 1100 },
        acceptDownloads: true,
      });
      const page = context.pages()[0] ?? (await context.newPage());
      const pageErrors = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.setDefaultTimeout(patience.timeout);

      await page.goto(url);
      await page.getByRole('heading', { name: 'Place a call' }).waitFor();

      // A wrong token: the API's refusal, in its own words.
      await page.getByLabel('API token').fill('not-the-token');
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.getByRole('alert').filter({ hasText: 'wrong bearer token' }).waitFor();

      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.getByRole('status').filter({ hasText: /^Connected: 0 live/ }).waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.getItem('switchboard.api_token')), token);

      // A number outside ALLOWED_DESTINATIONS (+1 in the demo) never reaches Twilio.
      await page.getByLabel('Number').fill('+33123456789');
      await page.getByRole('button', { name: 'Dial' }).click();
      await page.getByRole('alert')
        .filter({ hasText: '+33123456789 is not in ALLOWED_DESTINATIONS' }).waitFor();

      await page.getByLabel('Number').fill(callee);
      await page.getByLabel('Instructions (optional)').fill('Confirm the table for three at eight.');
      await page.getByLabel('Voice').selectOption('cedar');
      await page.getByRole('button', { name: 'Dial' }).click();
      const dialled = page.getByRole('status').filter({ hasText: /^Dialled \+14155550123: call CA/ });
      await dialled.waitFor();
      assert.equal(await page.getByRole('alert').filter({ hasText: /./ }).count(), 0);
      const sid = /CA[0-9a-f]{32}/.exec(await dialled.textContent())?.[0];
      assert.ok(sid, 'the page names the new call');

      // The call in the live table: answered by the simulated callee, streaming, Twilio's status
      // from its callbacks.
      const openButton = page.getByRole('button', { name: `Open call ${sid}`, exact: true });
      const liveRow = page.getByRole('table', { name: 'Live calls' }).getByRole('row')
        .filter({ has: openButton });
      await liveRow.getByRole('cell', { name: 'live', exact: true }).waitFor();
      await liveRow.getByRole('cell', { name: 'in-progress', exact: true }).waitFor();
      await liveRow.getByRole('cell', { name: 'outbound', exact: true }).waitFor();
      await liveRow.getByRole('cell', { name: callee, exact: true }).waitFor();

      // Its transcript, live: the callee's turn and the agent's answer.
      await liveRow.getByRole('button', { name: `Open call ${sid}`, exact: true }).click();
      const detail = page.getByRole('region', { name: 'Call detail' });
      await detail.getByText(sid, { exact: true }).waitFor();
      const transcript = detail.getByRole('list', { name: 'Transcript' });
      await transcript.getByRole('listitem').filter({ hasText: 'caller' }).first().waitFor();
      await transcript.getByRole('listitem').filter({ hasText: 'agent' }).first().waitFor();
      await page.screenshot({ path: path.join(screenshotDir, 'console-live.png'), fullPage: true });

      // Hang up from the page: the call leaves the live table and ends.
      await detail.getByRole('button', { name: 'Hang up', exact: true }).click();
      await detail.getByRole('status').filter({ hasText: 'Hanging up' }).waitFor();
      await liveRow.waitFor({ state: 'detached' });
      await detail.getByText('ended', { exact: true }).waitFor();
      const recentRow = page.getByRole('table', { name: 'Recent calls' }).getByRole('row')
        .filter({ has: openButton });
      await recentRow.waitFor();

      // Its recordings: links (the page fetches them with the token), a player, a download.
      const stereo = detail.getByRole('link', { name: 'stereo.wav', exact: true });
      await stereo.waitFor();
      const href = await stereo.getAttribute('href');
      assert.equal(href, `/calls/${sid}/recordings/stereo.wav`);
      await recentRow.getByRole('link', { name: 'stereo.wav', exact: true }).waitFor();
      for (const file of ['caller.wav', 'agent.wav', 'mono.wav', 'transcript.jsonl', 'call.json']) {
        await detail.getByRole('link', { name: file, exact: true }).waitFor();
      }

      await detail.getByRole('button', { name: 'Play stereo.wav', exact: true }).click();
      await page.waitForFunction(() => {
        const player = document.getElementById('player');
        return !player.hidden && player.src.startsWith('blob:') && player.duration > 0;
      }, null, patience);

      const [download] = await Promise.all([page.waitForEvent('download'), stereo.click()]);
      assert.equal(download.suggestedFilename(), `${sid}-stereo.wav`);
      const wav = await readFile(await download.path());
      assert.equal(wav.subarray(0, 4).toString('latin1'), 'RIFF');
      assert.equal(wav.subarray(8, 12).toString('latin1'), 'WAVE');

      // Without the token the same address is refused: the page's links do not leak it.
      const anonymous = await fetch(new URL(href, url));
      assert.equal(anonymous.status, 401);

      await page.screenshot({ path: path.join(screenshotDir, 'console-ended.png'), fullPage: true });
      assert.deepEqual(pageErrors, []);

      await context.close();
      context = null;
      const exit = await demo.stop();
      assert.deepEqual(exit, { code: 0, signal: null }, `the demo's log:\n${demo.log()}`);
    } catch (error) {
      // What the operator saw when it failed: the page's messages and a screenshot.
      const page = context?.pages()[0];
      if (page) {
        const shown = await page.locator('[role=alert], [role=status]').allTextContents()
          .catch(() => []);
        error.message += `\n--- the page's messages ---\n${shown.filter((text) => text).join('\n')}`;
        await page.screenshot({ path: path.join(screenshotDir, 'console-failed.png'), fullPage: true })
          .catch(() => {});
      }
      error.message += `\n--- the demo's log (tail) ---\n${demo.log().slice(-8000)}`;
      throw error;
    } finally {
      if (context) await context.close().catch(() => {});
      await demo.stop();
      await rm(work, { recursive: true, force: true });
    }
  });
