// The switchboard console: places calls and watches them through the call-control API
// (POST /calls, GET /calls, GET /calls/{sid}, hangup, say, transfer, recordings). Plain DOM,
// no framework and no build step; everything it loads comes from the bridge itself.
//
// The API token is kept in sessionStorage: it lives as long as the tab, never in the page or
// the URL. Text from the API only ever reaches the page through textContent.
'use strict';

const TOKEN_KEY = 'switchboard.api_token';
const POLL_MS = 1000;
const E164 = /^\+[1-9][0-9]{7,14}$/;

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  // A new generation stops the previous poll loop (a token change restarts polling at once).
  generation: 0,
  selected: null,          // sid of the call in the detail pane
  transcriptShown: 0,      // lines of its transcript already on the page
  transcriptKeys: [],      // what each shown line says (text and unheard), to redraw a cut one
  recordingsShown: '',     // its recordings on the page (their paths, joined)
  playerUrl: null,         // object URL of the recording in the player
};

// ---- the API ---------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/// The reason in words: the API's "error" field (with Twilio's code when it gave one), else the
/// HTTP status.
function reasonOf(response, body) {
  if (body && typeof body.error === 'string') {
    return body.twilio_code ? `${body.error} (Twilio error ${body.twilio_code})` : body.error;
  }
  return `HTTP ${response.status}${response.statusText ? ' ' + response.statusText : ''}`;
}

async function send(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, `the bridge cannot be reached (${error.message})`);
  }
}

async function api(method, path, body) {
  const response = await send(method, path, body);
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, reasonOf(response, parsed));
  return parsed;
}

/// A recording, fetched with the bearer token (a plain link could not send it).
async function fetchRecording(path) {
  const response = await send('GET', path);
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    throw new ApiError(response.status, reasonOf(response, parsed));
  }
  return response.blob();
}

const callPath = (sid) => `/calls/${encodeURIComponent(sid)}`;

// ---- formatting ------------------------------------------------------------------------------

function formatDuration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '';
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

function formatTime(iso) {
  if (!iso) return '';
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? iso : time.toLocaleTimeString();
}

function shortSid(sid) {
  return sid && sid.length > 14 ? `${sid.slice(0, 8)}…${sid.slice(-4)}` : sid || '';
}

function element(tag, { text, className, attributes } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function stateBadge(callState) {
  return element('span', { text: callState || '?', className: `state state-${callState || 'unknown'}` });
}

function showMessage(id, text) {
  $(id).textContent = text || '';
}

// ---- the token -------------------------------------------------------------------------------

function useToken(token) {
  state.token = token;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  showMessage('calls-error', '');
  restartPolling();
}

// ---- live and recent calls -------------------------------------------------------------------

function openButton(sid) {
  const button = element('button', {
    text: shortSid(sid),
    className: 'link sid-button',
    attributes: { type: 'button', title: sid, 'aria-label': `Open call ${sid}` },
  });
  button.addEventListener('click', () => openCall(sid));
  return button;
}

function hangupButton(sid) {
  const button = element('button', {
    text: 'Hang up',
    className: 'danger small',
    attributes: { type: 'button', 'aria-label': `Hang up ${sid}` },
  });
  button.addEventListener('click', () => hangUp(sid, 'calls-error'));
  return button;
}

/// Rows are kept and updated in place, keyed by sid, so that a button under the operator's
/// pointer or focus survives the next poll. The "empty" row has no sid and goes every time.
function syncRows(tbody, calls, makeRow, updateRow, emptyText, columns) {
  const wanted = new Set(calls.map((call) => call.call_sid));
  for (const row of [...tbody.rows]) {
    if (!wanted.has(row.dataset.sid)) row.remove();
  }
  let previous = null;
  for (const call of calls) {
    let row = tbody.querySelector(`tr[data-sid="${CSS.escape(call.call_sid)}"]`);
    if (!row) {
      row = makeRow(call);
      row.dataset.sid = call.call_sid;
      if (previous) previous.after(row);
      else tbody.prepend(row);
    }
    updateRow(row, call);
    if (call.call_sid === state.selected) row.classList.add('selected');
    else row.classList.remove('selected');
    previous = row;
  }
  if (calls.length === 0) {
    tbody.append(
      element('tr', { className: 'empty' }, [
        element('td', { text: emptyText, attributes: { colspan: String(columns) } }),
      ]),
    );
  }
}

function makeLiveRow(call) {
  const row = element('tr');
  row.append(element('td', {}, [openButton(call.call_sid)]));
  for (let i = 0; i < 8; ++i) row.append(element('td'));
  row.append(element('td', {}, [hangupButton(call.call_sid)]));
  return row;
}

function updateLiveRow(row, call) {
  const cells = row.cells;
  cells[1].textContent = call.direction || '';
  cells[2].textContent = call.from || '';
  cells[3].textContent = call.to || '';
  cells[4].replaceChildren(stateBadge(call.state));
  cells[5].textContent = call.twilio_status || '';
  cells[6].textContent = formatDuration(call.duration_s);
  cells[7].textContent = String(call.barge_ins ?? '');
  // In a cluster: the node the call runs on (any node's API steers it); empty on a lone node.
  cells[8].textContent = call.node || '';
  cells[9].querySelector('button').disabled = call.state === 'ending' || call.state === 'ended';
}

function recordingLink(sid, path) {
  const file = path.split('/').pop();
  const link = element('a', {
    text: file,
    className: 'recording',
    attributes: { href: path, download: `${sid}-${file}` },
  });
  link.addEventListener('click', (event) => {
    event.preventDefault();
    download(path, `${sid}-${file}`, link);
  });
  return link;
}

function makeRecentRow(call) {
  const row = element('tr');
  row.append(element('td', {}, [openButton(call.call_sid)]));
  for (const text of [call.direction, call.from, call.to, formatTime(call.started),
    formatDuration(call.duration_s), call.end_reason, call.node]) {
    row.append(element('td', { text: text || '' }));
  }
  const links = element('td', { className: 'recording-links' });
  for (const path of call.recordings || []) links.append(recordingLink(call.call_sid, path), ' ');
  row.append(links);
  return row;
}

function renderCalls(list) {
  const live = Array.isArray(list && list.calls) ? list.calls : [];
  const recent = Array.isArray(list && list.recent) ? list.recent : [];
  syncRows($('live-calls').tBodies[0], live, makeLiveRow, updateLiveRow, 'No live calls.', 10);
  // An ended call does not change: its row is made once.
  syncRows($('recent-calls').tBodies[0], recent, makeRecentRow, () => {}, 'No ended calls yet.', 9);
  showMessage('connection', `Connected: ${live.length} live, updated ${new Date().toLocaleTimeString()}`);
  $('connection').className = 'connection ok';
}

// ---- one call --------------------------------------------------------------------------------

function openCall(sid) {
  if (state.selected !== sid) {
    state.selected = sid;
    state.transcriptShown = 0;
    state.transcriptKeys = [];
    state.recordingsShown = '';
    $('transcript').replaceChildren();
    $('recordings').replaceChildren();
    $('detail-recordings').hidden = true;
    $('detail-facts').replaceChildren();
    showMessage('detail-result', '');
    showMessage('detail-error', '');
    stopPlayer();
  }
  $('detail-sid').textContent = sid;
  $('detail').hidden = false;
  for (const row of document.querySelectorAll('tr[data-sid]')) {
    row.classList.toggle('selected', row.dataset.sid === sid);
  }
  refreshDetail();
}

function fact(list, name, value) {
  if (value === undefined || value === null || value === '') return;
  list.append(element('dt', { text: name }), element('dd', { text: String(value) }));
}

function renderDetail(call) {
  if (call.call_sid !== state.selected) return;
  const facts = $('detail-facts');
  facts.replaceChildren(element('dt', { text: 'State' }), element('dd', {}, [stateBadge(call.state)]));
  fact(facts, 'Node', call.node);
  fact(facts, 'Direction', call.direction);
  fact(facts, 'From', call.from);
  fact(facts, 'To', call.to);
  fact(facts, 'Twilio status', call.twilio_status);
  fact(facts, 'Started', formatTime(call.started));
  fact(facts, 'Duration', formatDuration(call.duration_s));
  fact(facts, 'Barge-ins', call.barge_ins);
  fact(facts, 'Ended because', call.end_reason);

  const over = call.state === 'ended';
  for (const control of $('detail-controls').querySelectorAll('button, input')) {
    control.disabled = over || call.state === 'ending';
  }

  const lines = Array.isArray(call.transcript) ? call.transcript : [];
  const list = $('transcript');
  const lineItem = (line) => {
    const offset = typeof line.offset_ms === 'number' ? `${(line.offset_ms / 1000).toFixed(1)} s` : '';
    // The agent's words as the caller heard them; those a barge-in cut off follow, marked.
    const words = [element('span', { text: line.text || '' })];
    if (line.unheard) {
      words.push(element('span', {
        text: ` ${line.unheard}`,
        className: 'unheard',
        attributes: { title: 'not heard: the caller cut in' },
      }));
    }
    return element('li', { className: `line ${line.speaker === 'agent' ? 'agent' : 'caller'}` }, [
      element('span', { text: offset, className: 'offset' }),
      element('span', { text: line.speaker || '?', className: 'speaker' }),
      element('span', { className: 'text' }, words),
    ]);
  };
  // A line already shown changes when a barge-in cuts it after its transcript came.
  lines.slice(0, state.transcriptShown).forEach((line, i) => {
    const key = `${line.text || ''}\u0000${line.unheard || ''}`;
    if (state.transcriptKeys[i] !== key && list.children[i]) {
      list.children[i].replaceWith(lineItem(line));
      state.transcriptKeys[i] = key;
    }
  });
  for (const line of lines.slice(state.transcriptShown)) {
    list.append(lineItem(line));
    state.transcriptKeys.push(`${line.text || ''}\u0000${line.unheard || ''}`);
  }
  state.transcriptShown = Math.max(state.transcriptShown, lines.length);
  $('transcript-empty').hidden = lines.length > 0;

  // Re-listed only when they change, so that a link being clicked or the player stays put.
  // (An ended call is still fetched: Twilio's final status often comes after the stream ends.)
  const recordings = Array.isArray(call.recordings) ? call.recordings : [];
  if (recordings.join('\n') !== state.recordingsShown) {
    const ul = $('recordings');
    ul.replaceChildren();
    for (const path of recordings) {
      const file = path.split('/').pop();
      const item = element('li', {}, [recordingLink(call.call_sid, path)]);
      if (file.endsWith('.wav')) {
        const play = element('button', {
          text: 'Play',
          className: 'small',
          attributes: { type: 'button', 'aria-label': `Play ${file}` },
        });
        play.addEventListener('click', () => playRecording(path, play));
        item.append(' ', play);
      }
      ul.append(item);
    }
    $('detail-recordings').hidden = recordings.length === 0;
    state.recordingsShown = recordings.join('\n');
  }
}

async function refreshDetail() {
  const sid = state.selected;
  if (!sid || !state.token) return;
  try {
    const call = await api('GET', callPath(sid));
    renderDetail(call);
    if (sid === state.selected) showMessage('detail-error', '');
  } catch (error) {
    if (sid === state.selected) showMessage('detail-error', error.message);
  }
}

async function hangUp(sid, errorId) {
  try {
    const answer = await api('POST', `${callPath(sid)}/hangup`);
    showMessage(errorId, '');
    if (sid === state.selected) showMessage('detail-result', `Hanging up: the call is ${answer?.state || 'ending'}.`);
  } catch (error) {
    showMessage(errorId, `Hang up ${shortSid(sid)}: ${error.message}`);
  }
  poll(state.generation, false);
}

function stopPlayer() {
  const player = $('player');
  player.pause();
  player.removeAttribute('src');
  player.hidden = true;
  if (state.playerUrl) URL.revokeObjectURL(state.playerUrl);
  state.playerUrl = null;
}

async function playRecording(path, button) {
  button.disabled = true;
  try {
    const blob = await fetchRecording(path);
    stopPlayer();
    state.playerUrl = URL.createObjectURL(blob);
    const player = $('player');
    player.src = state.playerUrl;
    player.dataset.recording = path;
    player.hidden = false;
    showMessage('detail-error', '');
    // Playing may be refused (no audio device, autoplay rules): the controls stay usable.
    player.play().catch(() => {});
  } catch (error) {
    showMessage('detail-error', `${path.split('/').pop()}: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

async function download(path, name, link) {
  try {
    const blob = await fetchRecording(path);
    const url = URL.createObjectURL(blob);
    const save = element('a', { attributes: { href: url, download: name } });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    const target = link.closest('#detail') ? 'detail-error' : 'calls-error';
    showMessage(target, `${name}: ${error.message}`);
  }
}

// ---- polling ---------------------------------------------------------------------------------

/// One round: the call list, then the open call. A loop schedules its next round only after
/// this one has finished, so requests never pile up behind a slow bridge.
async function poll(generation, loop = true) {
  if (generation !== state.generation) return;
  if (!state.token) {
    showMessage('connection', 'Enter the API token to see calls.');
    $('connection').className = 'connection';
  } else {
    try {
      renderCalls(await api('GET', '/calls'));
      showMessage('calls-error', '');
    } catch (error) {
      showMessage('calls-error', error.message);
      showMessage('connection', `Not connected: ${error.message}`);
      $('connection').className = 'connection bad';
    }
    await refreshDetail();
  }
  if (loop && generation === state.generation) {
    setTimeout(() => poll(generation), POLL_MS);
  }
}

function restartPolling() {
  state.generation += 1;
  poll(state.generation);
}

// ---- forms -----------------------------------------------------------------------------------

async function dial(event) {
  event.preventDefault();
  showMessage('dial-result', '');
  showMessage('dial-error', '');
  if (!state.token) {
    showMessage('dial-error', 'Enter the API token first.');
    return;
  }
  const to = $('dial-number').value.trim();
  if (!to) {
    showMessage('dial-error', 'Enter the number to call, e.g. +14155550100.');
    return;
  }
  const body = { to };
  const instructions = $('dial-instructions').value.trim();
  if (instructions) body.instructions = instructions;
  const voice = $('dial-voice').value;
  if (voice) body.voice = voice;
  const button = event.submitter || $('dial-form').querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const answer = await api('POST', '/calls', body);
    showMessage('dial-result', `Dialled ${to}: call ${answer.call_sid} (${answer.status}).`);
    openCall(answer.call_sid);
    poll(state.generation, false);
  } catch (error) {
    showMessage('dial-error', `Could not dial ${to}: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

async function say(event) {
  event.preventDefault();
  const sid = state.selected;
  const text = $('say-text').value.trim();
  showMessage('detail-result', '');
  if (!sid || !text) {
    showMessage('detail-error', 'Type what the agent should say.');
    return;
  }
  try {
    await api('POST', `${callPath(sid)}/say`, { text });
    $('say-text').value = '';
    showMessage('detail-error', '');
    showMessage('detail-result', `The agent says: “${text}”`);
  } catch (error) {
    showMessage('detail-error', `Say: ${error.message}`);
  }
}

async function transfer(event) {
  event.preventDefault();
  const sid = state.selected;
  const to = $('transfer-to').value.trim();
  showMessage('detail-result', '');
  if (!sid || !E164.test(to)) {
    showMessage('detail-error', 'Transfer to an E.164 number, e.g. +14155550100.');
    return;
  }
  try {
    const answer = await api('POST', `${callPath(sid)}/transfer`, { to });
    showMessage('detail-error', '');
    showMessage('detail-result', `Transferred to ${answer?.transferred_to || to}.`);
  } catch (error) {
    showMessage('detail-error', `Transfer: ${error.message}`);
  }
}

function start() {
  $('token').value = state.token;
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    useToken($('token').value.trim());
  });
  $('forget-token').addEventListener('click', () => {
    $('token').value = '';
    useToken('');
  });
  $('dial-form').addEventListener('submit', dial);
  $('say-form').addEventListener('submit', say);
  $('transfer-form').addEventListener('submit', transfer);
  $('detail-hangup').addEventListener('click', () => {
    if (state.selected) hangUp(state.selected, 'detail-error');
  });
  restartPolling();
}

document.addEventListener('DOMContentLoaded', start);
