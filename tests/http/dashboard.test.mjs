// The admin dashboard in headless Chromium (Debian's chromium package,
// driven by playwright-core): a real 3-node cluster, the page loaded from a
// follower, and assertions on what is rendered: every member listed, the
// leader marked, numbers updating after writes, an operator action asking
// for confirmation. Saves a screenshot under the build directory. Prints
// TAP; skips (1..0 # SKIP) when chromium or node_modules are missing.
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SERVER = process.env.RAFTKV_SERVER;
const OUT_DIR = process.env.SCREENSHOT_DIR || process.cwd();
const TOKEN = 'dash-token';

function skip(reason) {
  console.log('1..0 # SKIP ' + reason);
  process.exit(0);
}

if (!SERVER) {
  skip('RAFTKV_SERVER is not set');
}
if (!fs.existsSync(CHROMIUM)) {
  skip(CHROMIUM + ' not found (apt-get install chromium)');
}
let chromium;
try {
  ({chromium} = await import(path.join(HERE, 'node_modules', 'playwright-core', 'index.mjs')));
} catch (e) {
  skip('playwright-core not installed (npm ci --prefix tests/http): ' + e.message);
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

const procs = [];
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-dash-'));

function cleanup() {
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGCONT');
      p.kill('SIGKILL');
    } catch (e) {
      // Already gone.
    }
  }
  fs.rmSync(root, {recursive: true, force: true});
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(1));
process.on('SIGTERM', () => process.exit(1));

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, ms) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) {
        return v;
      }
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error('timed out waiting for ' + what + (last ? ': ' + last.message : ''));
}

async function status(node) {
  const r = await fetch(`http://127.0.0.1:${node.http}/status`, {signal: AbortSignal.timeout(2000)});
  return r.json();
}

// Sends SET commands over RESP and waits for their replies.
function resp(port, cmds) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.setTimeout(5000, () => reject(new Error('RESP timeout')));
    s.on('error', reject);
    s.on('data', (d) => {
      got += d.toString();
      if (got.split('\r\n').length - 1 >= cmds.length) {
        s.end();
        resolve(got);
      }
    });
    s.on('connect', () => {
      for (const c of cmds) {
        s.write(`*${c.length}\r\n` + c.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
      }
    });
  });
}

async function startCluster(n) {
  const nodes = [];
  for (let i = 1; i <= n; i++) {
    nodes.push({id: i, redis: await freePort(), peer: await freePort(), http: await freePort()});
  }
  const spec = nodes.map((x) => `${x.id}=127.0.0.1:${x.peer}`).join(',');
  const httpSpec = nodes.map((x) => `${x.id}=127.0.0.1:${x.http}`).join(',');
  for (const x of nodes) {
    const log = fs.openSync(path.join(root, `n${x.id}.log`), 'a');
    const p = spawn(SERVER, [
      '--id', String(x.id), '--data-dir', path.join(root, `n${x.id}`),
      '--redis', `127.0.0.1:${x.redis}`, '--peer', `127.0.0.1:${x.peer}`,
      '--http', `127.0.0.1:${x.http}`, '--cluster', spec, '--cluster-http', httpSpec,
      '--admin-token', TOKEN, '--election-ms', '1000', '--heartbeat-ms', '100',
    ], {stdio: ['ignore', 'ignore', log]});
    procs.push(p);
    x.proc = p;
  }
  const leader = await waitFor('a leader', async () => {
    for (const x of nodes) {
      const s = await status(x).catch(() => null);
      if (s && s.role === 'leader' && s.ready) {
        return x;
      }
    }
    return null;
  }, 20000);
  // A majority elects a leader; the third node may still be starting (slow
  // under sanitizers). Every node must answer before a test picks one.
  await waitFor('every node to answer /status', async () => {
    for (const x of nodes) {
      if (!(await status(x).catch(() => null))) {
        return null;
      }
    }
    return true;
  }, 20000);
  return {nodes, leader};
}

// ---------------------------------------------------------------------------
// TAP
// ---------------------------------------------------------------------------

let count = 0;
let failed = 0;

async function test(name, fn) {
  count++;
  try {
    await fn();
    console.log(`ok ${count} - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok ${count} - ${name}`);
    for (const line of String(e.stack || e).split('\n')) {
      console.log('# ' + line);
    }
  }
}

function assert(cond, msg) {
  if (!cond) {
    throw new Error('assertion failed: ' + msg);
  }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

let browser;
try {
  const {nodes, leader} = await startCluster(3);
  const follower = nodes.find((x) => x !== leader);
  // A fresh profile (--user-data-dir) in the temporary directory.
  browser = await chromium.launchPersistentContext(path.join(root, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: {width: 1400, height: 900},
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
           '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const page = browser.pages()[0] || await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));

  await test('the page loads from a follower with its own assets only', async () => {
    const r = await page.goto(`http://127.0.0.1:${follower.http}/admin`);
    assert(r.status() === 200, 'status ' + r.status());
    assert(await page.title() === 'raftkv dashboard', 'title');
    await page.waitForSelector('#members tbody tr', {timeout: 10000});
    for (const u of requests) {
      assert(u.startsWith('http://127.0.0.1:'), 'external request ' + u);
    }
  });

  await test('every member is listed, healthy, and the leader is marked', async () => {
    await page.waitForFunction(
      () => document.querySelectorAll('#members tbody tr[data-health="up"]').length === 3,
      null, {timeout: 10000});
    const rows = await page.$$eval('#members tbody tr', (trs) => trs.map((tr) => ({
      id: Number(tr.dataset.nodeId),
      role: tr.dataset.role,
      leader: tr.classList.contains('leader'),
      roleText: tr.querySelector('.role').textContent,
      stalls: tr.querySelector('.gaps').textContent,
    })));
    assert(rows.length === 3, 'rows ' + JSON.stringify(rows));
    assert(JSON.stringify(rows.map((r) => r.id)) === '[1,2,3]', 'ids');
    const marked = rows.filter((r) => r.leader);
    assert(marked.length === 1 && marked[0].id === leader.id, 'leader row ' + JSON.stringify(rows));
    assert(marked[0].roleText.includes('★') && marked[0].role === 'leader', 'leader mark');
    // Heartbeat gaps (warn / critical) from each member's /status limits.
    assert(rows.every((r) => /^\d+ \/ \d+$/.test(r.stalls)), 'stalls ' + JSON.stringify(rows));
    const text = await page.textContent('#leader-id');
    assert(text === String(leader.id), 'header leader ' + text);
  });

  await test('numbers update: commit index grows after writes, polls continue', async () => {
    const commitOf = () => page.$eval(`#members tr[data-node-id="${leader.id}"] .commit`,
                                      (td) => Number(td.textContent));
    const before = await commitOf();
    const polls = Number(await page.textContent('#refresh-count'));
    const cmds = [];
    for (let i = 0; i < 20; i++) {
      cmds.push(['SET', `k${i}`, `v${i}`]);
    }
    await resp(leader.redis, cmds);
    await waitFor('commit index to grow', async () => (await commitOf()) > before, 5000);
    await waitFor('more polls', async () =>
      Number(await page.textContent('#refresh-count')) >= polls + 2, 5000);
    const pts = await page.$$eval('#chart-mem polyline', (ls) => ls.map((l) =>
      l.getAttribute('points').split(' ').length));
    assert(pts.length === 3 && pts.every((n) => n >= 2), 'chart points ' + pts);
  });

  await test('operator actions ask for confirmation and need the token', async () => {
    const target = nodes.find((x) => x !== leader && x !== follower) || follower;
    const btn = `#members tr[data-node-id="${target.id}"] button[data-action="transfer"]`;
    assert(await page.$eval(btn, (b) => b.disabled), 'disabled without a token');
    await page.fill('#token', TOKEN);
    await page.waitForFunction((sel) => !document.querySelector(sel).disabled, btn,
                               {timeout: 5000});
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      d.dismiss();
    });
    await page.click(btn);
    await page.waitForFunction(() => document.querySelector('#action-result').textContent
      .startsWith('Cancelled'), null, {timeout: 5000});
    assert(asked.includes('Transfer leadership to node ' + target.id), 'dialog ' + asked);
    page.once('dialog', (d) => d.accept());
    await page.click(btn);
    await page.waitForFunction((id) => {
      const tr = document.querySelector(`#members tr[data-node-id="${id}"]`);
      return tr && tr.classList.contains('leader') && tr.dataset.role === 'leader';
    }, target.id, {timeout: 15000});
  });

  await test('no script errors', async () => {
    assert(errors.length === 0, errors.join('; '));
  });

  await test('screenshot saved under the build directory', async () => {
    await sleep(2500); // a few more points on the charts
    const file = path.join(OUT_DIR, 'dashboard.png');
    await page.screenshot({path: file, fullPage: true});
    assert(fs.statSync(file).size > 10000, 'screenshot size');
    console.log('# screenshot: ' + file);
  });
} catch (e) {
  await test('setup', async () => {
    throw e;
  });
} finally {
  if (browser) {
    await browser.close().catch(() => {});
  }
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGCONT');
      p.kill('SIGTERM');
    } catch (e) {
      // Already gone.
    }
  }
  await sleep(500);
}
console.log(`1..${count}`);
process.exit(failed > 0 ? 1 : 0);
