// Server-sent events over fetch(): unlike EventSource, this can POST a JSON body and is
// cancelled with an AbortController, which closes the connection (and so the upstream stream).
// POST a JSON body and read the event stream of the answer; a non-2xx answer throws its error.
export async function* postSSE(url, body, signal) {
  const resp = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  if (!resp.ok) {
    const j = await resp.json().catch(() => null);
    throw new Error(j?.error ? `${j.error.type}: ${j.error.message}` : `HTTP ${resp.status}`);
  }
  yield* readSSE(resp.body);
}

export async function* readSSE(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const event = parseBlock(buf.slice(0, end));
        buf = buf.slice(end + 2);
        if (event) yield event;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function parseBlock(block) {
  let event = 'message';
  let id = null;
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line[0] === ':') continue; // comments are keep-alives
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (!data.length) return null;
  const text = data.join('\n');
  try {
    return { event, id, data: JSON.parse(text) };
  } catch {
    return { event, id, data: text };
  }
}

export async function loadConfig() {
  const cfg = await (await fetch('/api/config')).json();
  document.querySelector('[data-testid="backend"]').textContent = cfg.backend;
  return cfg;
}

export function fillModels(select, cfg) {
  for (const m of cfg.models) {
    const o = document.createElement('option');
    o.value = o.textContent = m;
    if (m === cfg.model) o.selected = true;
    select.appendChild(o);
  }
}

export const ms = s => (s == null ? '–' : (s * 1000).toFixed(s < 0.1 ? 1 : 0));
