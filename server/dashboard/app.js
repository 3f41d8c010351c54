// raftkv dashboard: polls this node's /status, then every member's /status
// (their HTTP addresses come from this node's view), renders the members
// table and a few time series, and runs operator actions on the leader.
// Plain JavaScript, no framework, nothing loaded from elsewhere.
'use strict';

(function () {
  const POLL_MS = 1000;
  const FETCH_TIMEOUT_MS = 900;
  const HISTORY = 120;
  const COLORS = ['#2457c5', '#c23a2b', '#1f8f4e', '#b7791f', '#7b3fb5',
                  '#0f8a8a', '#a33f7a', '#56606e'];

  const state = {
    polls: 0,
    series: new Map(),     // node id -> {verify: [], pending: [], lag: [], mem: []}
    prevVerify: new Map(), // node id -> {count, sum_ms}
    leaderBase: null,      // base URL of the leader's HTTP listener
    adminEnabled: false,
    busy: false,
  };

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------
  // Fetching
  // ------------------------------------------------------------------

  function baseOf(addr) {
    if (!addr) {
      return null;
    }
    const i = addr.lastIndexOf(':');
    let host = addr.slice(0, i);
    const port = addr.slice(i + 1);
    if (host === '' || host === '*' || host === '0.0.0.0' || host === '[::]') {
      host = location.hostname;
    }
    return location.protocol + '//' + host + ':' + port;
  }

  async function getStatus(base) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    try {
      const r = await fetch(base + '/status', {signal: ctl.signal, cache: 'no-store'});
      if (!r.ok) {
        throw new Error('HTTP ' + r.status);
      }
      return await r.json();
    } finally {
      clearTimeout(timer);
    }
  }

  // ------------------------------------------------------------------
  // Formatting
  // ------------------------------------------------------------------

  function fmtBytes(n) {
    if (n == null) {
      return '—';
    }
    const units = ['B', 'KiB', 'MiB', 'GiB'];
    let u = 0;
    while (n >= 1024 && u < units.length - 1) {
      n /= 1024;
      u++;
    }
    return n.toFixed(u === 0 ? 0 : 1) + ' ' + units[u];
  }

  function fmtContact(ms, isSelf) {
    if (isSelf) {
      return 'self';
    }
    if (ms == null) {
      return '—';
    }
    if (ms < 0) {
      return 'never';
    }
    return ms < 1000 ? ms + ' ms ago' : (ms / 1000).toFixed(1) + ' s ago';
  }

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text == null ? '—' : String(text);
    if (cls) {
      td.className = cls;
    }
    tr.appendChild(td);
    return td;
  }

  // ------------------------------------------------------------------
  // Time series
  // ------------------------------------------------------------------

  function push(id, key, v) {
    if (!state.series.has(id)) {
      state.series.set(id, {verify: [], pending: [], lag: [], mem: []});
    }
    const s = state.series.get(id)[key];
    s.push(v);
    if (s.length > HISTORY) {
      s.shift();
    }
  }

  function record(id, st) {
    const prev = state.prevVerify.get(id);
    let avg = 0;
    if (prev && st.verify.count > prev.count) {
      avg = (st.verify.sum_ms - prev.sum_ms) / (st.verify.count - prev.count);
    }
    state.prevVerify.set(id, {count: st.verify.count, sum_ms: st.verify.sum_ms});
    push(id, 'verify', avg);
    push(id, 'pending', st.pending_reads);
    push(id, 'lag', st.loop_lag_max_ms);
    push(id, 'mem', st.memory.rss_bytes / (1024 * 1024));
  }

  function drawChart(elId, key) {
    const root = $(elId);
    const svg = root.querySelector('svg');
    const legend = root.querySelector('.legend');
    const ns = 'http://www.w3.org/2000/svg';
    let max = 0;
    for (const s of state.series.values()) {
      for (const v of s[key]) {
        max = Math.max(max, v);
      }
    }
    const top = max > 0 ? max * 1.15 : 1;
    svg.textContent = '';
    legend.textContent = '';
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('x', '4');
    label.setAttribute('y', '12');
    label.setAttribute('class', 'axis');
    label.textContent = 'max ' + (max < 10 ? max.toFixed(2) : max.toFixed(0));
    svg.appendChild(label);
    const ids = [...state.series.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      const values = state.series.get(id)[key];
      const color = COLORS[(id - 1) % COLORS.length];
      const pts = values.map((v, i) => {
        const x = (HISTORY - values.length + i) * 400 / (HISTORY - 1);
        const y = 118 - (v / top) * 104;
        return x.toFixed(1) + ',' + y.toFixed(1);
      });
      const line = document.createElementNS(ns, 'polyline');
      line.setAttribute('points', pts.join(' '));
      line.setAttribute('stroke', color);
      line.setAttribute('data-node-id', String(id));
      svg.appendChild(line);
      const item = document.createElement('span');
      const sw = document.createElement('i');
      sw.style.background = color;
      item.appendChild(sw);
      const last = values.length ? values[values.length - 1] : 0;
      item.appendChild(document.createTextNode(
        'node ' + id + ': ' + (last < 10 ? last.toFixed(2) : last.toFixed(0))));
      legend.appendChild(item);
    }
  }

  // ------------------------------------------------------------------
  // Operator actions
  // ------------------------------------------------------------------

  function token() {
    return $('token').value.trim();
  }

  function showResult(ok, text) {
    const el = $('action-result');
    el.className = ok ? 'ok' : 'bad';
    el.textContent = text;
  }

  async function action(kind, id) {
    const what = kind === 'transfer'
      ? 'Transfer leadership to node ' + id + '?'
      : 'Remove node ' + id + ' from the cluster? It stops being a member.';
    if (!window.confirm(what)) {
      showResult(false, 'Cancelled: ' + what);
      return;
    }
    const base = state.leaderBase || '';
    try {
      const r = await fetch(base + '/admin/api/' + kind + '?id=' + id, {
        method: 'POST',
        headers: {'Authorization': 'Bearer ' + token()},
      });
      const body = await r.json();
      showResult(body.ok, body.ok ? kind + ' of node ' + id + ': done'
                                  : kind + ' failed: ' + body.error);
    } catch (e) {
      showResult(false, kind + ' failed: ' + e.message);
    }
    poll();
  }

  function actionButtons(td, id, isLeader) {
    const enabled = state.adminEnabled && token() !== '';
    const mk = (text, kind, cls) => {
      const b = document.createElement('button');
      b.textContent = text;
      b.dataset.action = kind;
      b.disabled = !enabled || isLeader;
      if (cls) {
        b.className = cls;
      }
      b.title = !state.adminEnabled ? 'start the server with --admin-token'
        : token() === '' ? 'enter the admin token below' : '';
      b.addEventListener('click', () => action(kind, id));
      td.appendChild(b);
    };
    mk('make leader', 'transfer', '');
    mk('remove', 'remove', 'danger');
  }

  // ------------------------------------------------------------------
  // Rendering
  // ------------------------------------------------------------------

  function render(self, rows) {
    const leaderRow = rows.find((r) => r.status && r.status.role === 'leader');
    const leader = leaderRow ? leaderRow.status : null;
    const leaderId = leader ? leader.id : self.leader_id;
    state.leaderBase = leaderRow ? leaderRow.base : null;
    state.adminEnabled = self.admin_actions;
    const view = new Map((leader || self).members.map((m) => [m.id, m]));

    $('self-id').textContent = self.id;
    $('leader-id').textContent = leaderId ? leaderId : 'none';
    $('term').textContent = (leader || self).term;
    $('refresh-count').textContent = state.polls;
    $('updated').textContent = new Date().toLocaleTimeString();
    $('ops-state').textContent = self.admin_actions
      ? 'Operator actions are enabled on this node.'
      : 'Operator actions are disabled (the server has no --admin-token).';

    const tbody = $('members').querySelector('tbody');
    tbody.textContent = '';
    for (const r of rows) {
      const st = r.status;
      const isLeader = r.id === leaderId;
      const tr = document.createElement('tr');
      tr.dataset.nodeId = r.id;
      tr.dataset.role = st ? st.role : 'unknown';
      tr.dataset.health = r.health;
      if (isLeader) {
        tr.className = 'leader';
      }
      cell(tr, r.id + (r.id === self.id ? ' (this)' : ''));
      const role = st ? st.role : r.member.role;
      cell(tr, (isLeader ? '★ ' : '') + role, 'role role-' + role);
      cell(tr, r.health, 'health health-' + r.health);
      cell(tr, st ? st.term : null, 'num term');
      cell(tr, st ? st.commit_index : null, 'num commit');
      cell(tr, st ? st.applied_index : null, 'num applied');
      let lag = null;
      if (leader && st) {
        lag = Math.max(0, leader.commit_index - st.applied_index);
      } else if (leader && view.has(r.id)) {
        lag = Math.max(0, leader.last_index - view.get(r.id).match_index);
      }
      cell(tr, lag, 'num lag');
      const vm = view.get(r.id);
      cell(tr, fmtContact(vm ? vm.last_contact_ms : null, leader ? isLeader : r.id === self.id),
           'contact');
      cell(tr, st ? st.pending_reads : null, 'num pending');
      cell(tr, st ? st.loop_lag_max_ms + ' ms' : null, 'num looplag');
      const lim = st && st.limits;
      const gaps = lim ? lim.heartbeat_gaps_warn + ' / ' + lim.heartbeat_gaps_critical : null;
      const gapCell = cell(tr, gaps, 'num gaps');
      if (lim && lim.heartbeat_gaps_critical > 0) {
        gapCell.classList.add('bad');
        gapCell.title = 'the event loop stalled past the election timeout';
      }
      cell(tr, st ? fmtBytes(st.memory.rss_bytes) : null, 'num mem');
      cell(tr, r.member.redis || '—');
      cell(tr, r.member.http || '—');
      actionButtons(cell(tr, ''), r.id, isLeader);
      tbody.appendChild(tr);
    }
    const unknown = rows.filter((r) => r.health === 'unknown').length;
    $('members-note').textContent = unknown
      ? unknown + ' member(s) have no known HTTP address: start the nodes with ' +
        '--cluster-http id=host:port,... to see them.'
      : '';
    drawChart('chart-verify', 'verify');
    drawChart('chart-pending', 'pending');
    drawChart('chart-lag', 'lag');
    drawChart('chart-mem', 'mem');
  }

  async function poll() {
    if (state.busy) {
      return;
    }
    state.busy = true;
    try {
      let self;
      try {
        self = await getStatus('');
      } catch (e) {
        $('members-note').textContent = 'This node does not answer: ' + e.message;
        return;
      }
      const rows = await Promise.all(self.members.map(async (m) => {
        const row = {id: m.id, member: m, status: null, health: 'unknown', base: null};
        if (m.id === self.id) {
          row.status = self;
          row.health = 'up';
          row.base = '';
          return row;
        }
        row.base = baseOf(m.http);
        if (!row.base) {
          return row;
        }
        try {
          row.status = await getStatus(row.base);
          row.health = 'up';
        } catch (e) {
          row.health = 'down';
        }
        return row;
      }));
      rows.sort((a, b) => a.id - b.id);
      state.polls++;
      for (const r of rows) {
        if (r.status) {
          record(r.id, r.status);
        }
      }
      render(self, rows);
    } finally {
      state.busy = false;
    }
  }

  $('token').value = sessionStorage.getItem('raftkv-admin-token') || '';
  $('token').addEventListener('input', () => {
    sessionStorage.setItem('raftkv-admin-token', token());
  });
  poll();
  setInterval(poll, POLL_MS);
})();
