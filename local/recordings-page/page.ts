/**
 * The recordings page: one self-contained document. Everything from the store is put on the page as
 * text (textContent), never as markup, so a statement or a value cannot inject anything; the
 * Content-Security-Policy admits only this document's own script and style, by nonce.
 */
export function recordingsPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Gatehouse: session recordings</title>
<style nonce="${nonce}">
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; display: flex; height: 100vh; }
  #sessions { width: 42%; overflow: auto; border-right: 1px solid #ccc; }
  #replay { flex: 1; overflow: auto; padding: 0 1em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; white-space: nowrap; }
  tr.session { cursor: pointer; }
  tr.session:hover, tr.selected { background: #eef4ff; }
  #events { font: 13px/1.35 ui-monospace, monospace; white-space: pre-wrap; }
  .at { color: #888; display: inline-block; width: 7em; }
  .client { color: #0b4f9c; } .error { color: #b00020; } .cut { color: #a15c00; } .muted { color: #888; }
  h1 { font-size: 16px; padding: 0 8px; }
</style>
</head>
<body>
<section id="sessions">
  <h1>Sessions</h1>
  <table><thead><tr><th>started</th><th>identity</th><th>database</th><th>statements</th></tr></thead>
  <tbody id="session-rows"></tbody></table>
  <p id="no-sessions" class="muted" hidden>No sessions yet.</p>
</section>
<section id="replay">
  <h1 id="replay-title">Pick a session</h1>
  <p><button id="play" disabled>Replay at real speed</button> <button id="stop" disabled>Show all</button></p>
  <div id="events"></div>
</section>
<script nonce="${nonce}">
(() => {
  const rows = document.getElementById('session-rows');
  const events = document.getElementById('events');
  const title = document.getElementById('replay-title');
  const play = document.getElementById('play');
  const stop = document.getElementById('stop');
  let current = [];
  let timers = [];

  function line(event, origin) {
    const div = document.createElement('div');
    const at = document.createElement('span');
    at.className = 'at';
    at.textContent = '+' + ((event.time - origin) / 1e6).toFixed(3) + 's';
    const text = document.createElement('span');
    let content = '';
    switch (event.kind) {
      case 'start': content = 'session recorded by ' + event.writer; text.className = 'muted'; break;
      case 'client': {
        const e = event.event;
        text.className = 'client';
        if (e.type === 'query') content = '=> ' + e.text + (e.redacted ? '   (redacted)' : '');
        else if (e.type === 'parse') content = '=> parse ' + e.text + (e.redacted ? '   (redacted)' : '');
        else if (e.type === 'bind') content = '=> bind ' + e.parameters + ' parameter(s)';
        else if (e.type === 'execute') content = '=> execute';
        else return null;
        break;
      }
      case 'columns': content = '   ' + event.names.join(' | '); text.className = 'muted'; break;
      case 'row': content = '   ' + event.values.map((v) => (v === null ? 'NULL' : v)).join(' | '); break;
      case 'complete': content = '<= ' + event.tag; break;
      case 'error': content = '<= ' + event.severity + ' ' + event.code + ': ' + event.message; text.className = 'error'; break;
      case 'notice': content = '<= ' + event.severity + ': ' + event.message; text.className = 'muted'; break;
      case 'copy': content = '   (copy data, ' + event.bytes + ' bytes)'; break;
      case 'cut': content = '   … ' + event.cut.omittedMessages + ' message(s), ' + event.cut.omittedBytes + ' bytes not recorded (' + event.cut.cap + ' cap)'; text.className = 'cut'; break;
      case 'end': content = 'session ended: ' + event.reason; text.className = 'muted'; break;
      default: return null;
    }
    text.textContent = content;
    div.append(at, text);
    div.className = 'event event-' + event.kind;
    return div;
  }

  function clearTimers() { for (const t of timers) clearTimeout(t); timers = []; }

  function showAll() {
    clearTimers();
    events.replaceChildren();
    const origin = current.length ? current[0].time : 0;
    for (const event of current) { const div = line(event, origin); if (div) events.append(div); }
  }

  function replay() {
    clearTimers();
    events.replaceChildren();
    const origin = current.length ? current[0].time : 0;
    for (const event of current) {
      timers.push(setTimeout(() => { const div = line(event, origin); if (div) events.append(div); }, (event.time - origin) / 1000));
    }
  }

  async function open(session, row) {
    for (const selected of document.querySelectorAll('tr.selected')) selected.classList.remove('selected');
    row.classList.add('selected');
    const response = await fetch('api/sessions/' + encodeURIComponent(session.id));
    current = response.ok ? await response.json() : [];
    title.textContent = 'Session ' + session.id;
    play.disabled = stop.disabled = current.length === 0;
    showAll();
  }

  async function load() {
    const response = await fetch('api/sessions');
    const sessions = response.ok ? await response.json() : [];
    document.getElementById('no-sessions').hidden = sessions.length > 0;
    for (const session of sessions) {
      const tr = document.createElement('tr');
      tr.className = 'session';
      tr.dataset.session = session.id;
      for (const value of [new Date(session.start / 1000).toLocaleString(), session.subject ?? '', session.database, session.statements ?? 'open']) {
        const td = document.createElement('td');
        td.textContent = String(value);
        tr.append(td);
      }
      tr.addEventListener('click', () => open(session, tr));
      rows.append(tr);
    }
  }

  play.addEventListener('click', replay);
  stop.addEventListener('click', showAll);
  load();
})();
</script>
</body>
</html>
`;
}
