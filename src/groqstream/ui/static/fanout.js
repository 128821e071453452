// The fan-out view: POST /api/fanout and watch N streams run at concurrency C: a live table of
// the streams in flight and a TTFT histogram that fills in. Stop closes the connection, which
// cancels every stream still running on the server.
import { postSSE, loadConfig, fillModels, ms } from './sse.js';

const $ = id => document.getElementById(id);
const byTest = id => document.querySelector(`[data-testid="${id}"]`);
const SVG = 'http://www.w3.org/2000/svg';
let controller = null;
let ttfts = [];
let maxTokens = 0;
const rowEls = new Map();

function setStatus(state) {
  const el = byTest('fanout-status');
  el.dataset.state = state;
  el.textContent = state;
  $('run').disabled = state === 'running';
  $('stop').disabled = state !== 'running';
}

function drawHistogram() {
  const svg = byTest('fanout-histogram');
  svg.textContent = '';
  svg.dataset.count = String(ttfts.length);
  if (!ttfts.length) return;
  const lo = Math.min(...ttfts);
  const hi = Math.max(...ttfts);
  const bins = 16;
  const width = (hi - lo) / bins || 1e-3;
  const counts = new Array(bins).fill(0);
  for (const t of ttfts) counts[Math.min(bins - 1, Math.floor((t - lo) / width))] += 1;
  const top = Math.max(...counts);
  const bw = 400 / bins;
  counts.forEach((c, i) => {
    const h = (c / top) * 160;
    const r = document.createElementNS(SVG, 'rect');
    r.setAttribute('x', String(10 + i * bw + 1));
    r.setAttribute('y', String(175 - h));
    r.setAttribute('width', String(bw - 2));
    r.setAttribute('height', String(h));
    svg.appendChild(r);
  });
  for (const [x, v, anchor] of [[10, lo, 'start'], [410, hi, 'end']]) {
    const t = document.createElementNS(SVG, 'text');
    t.setAttribute('x', String(x));
    t.setAttribute('y', '194');
    t.setAttribute('text-anchor', anchor);
    t.textContent = `${ms(v)} ms`;
    svg.appendChild(t);
  }
}

function updateRow(r) {
  let tr = rowEls.get(r.i);
  if (r.state === 'done' || (r.state === 'queued' && !tr)) {
    if (tr) tr.remove();
    rowEls.delete(r.i);
    return;
  }
  if (!tr) {
    tr = document.createElement('tr');
    tr.innerHTML = '<td></td><td></td><td></td><td></td><td><div class="bar"></div></td>';
    $('rows').appendChild(tr);
    rowEls.set(r.i, tr);
  }
  const cells = tr.children;
  cells[0].textContent = r.i + 1;
  cells[1].textContent = r.error ? `error: ${r.error}` : r.state;
  cells[2].textContent = r.tokens;
  cells[3].textContent = ms(r.ttft_s);
  const pct = maxTokens ? Math.min(100, (100 * r.tokens) / maxTokens) : Math.min(100, r.tokens);
  cells[4].firstChild.style.width = `${pct}%`;
}

const handlers = {
  start(d) {
    $('of').textContent = `/ ${d.n}`;
  },
  tick(d) {
    for (const r of d.rows) updateRow(r);
    ttfts.push(...d.ttft_s);
    byTest('fanout-done').textContent = d.done;
    byTest('fanout-in-flight').textContent = d.in_flight;
    byTest('fanout-failed').textContent = d.failed;
    byTest('fanout-elapsed').textContent = d.elapsed_s.toFixed(1);
    const sorted = [...ttfts].sort((a, b) => a - b);
    const pct = p => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
    if (sorted.length) {
      byTest('fanout-p50').textContent = ms(pct(50));
      byTest('fanout-p99').textContent = ms(pct(99));
    }
    drawHistogram();
  },
  summary(d) {
    byTest('fanout-p50').textContent = ms(d.ttft_p50_s);
    byTest('fanout-p99').textContent = ms(d.ttft_p99_s);
    byTest('fanout-elapsed').textContent = d.elapsed_s.toFixed(1);
    $('summary').textContent =
      `${d.done}/${d.n} done, ${d.failed} failed · TTFT p50 ${ms(d.ttft_p50_s)} / p90 ` +
      `${ms(d.ttft_p90_s)} / p99 ${ms(d.ttft_p99_s)} ms · ${(d.tokens_per_s ?? 0).toFixed(0)} ` +
      `tokens/s · ${(d.req_per_s ?? 0).toFixed(1)} req/s`;
    setStatus(d.failed ? 'error' : 'done');
  },
};

async function run() {
  if (controller) controller.abort();
  ttfts = [];
  rowEls.clear();
  $('rows').textContent = '';
  $('summary').textContent = '';
  $('error').classList.add('hidden');
  drawHistogram();
  setStatus('running');
  const mine = (controller = new AbortController());
  const mt = parseInt($('max-tokens').value, 10);
  maxTokens = Number.isFinite(mt) ? mt : 0;
  const body = {
    prompt: $('prompt').value,
    n: parseInt($('n').value, 10),
    concurrency: parseInt($('concurrency').value, 10),
    model: $('model').value || undefined,
    max_tokens: maxTokens || undefined,
  };
  try {
    for await (const ev of postSSE('/api/fanout', body, mine.signal)) handlers[ev.event]?.(ev.data);
  } catch (e) {
    if (e.name === 'AbortError') {
      if (controller === mine) setStatus('stopped');
      return;
    }
    $('error').textContent = String(e.message || e);
    $('error').classList.remove('hidden');
    setStatus('error');
  } finally {
    if (controller === mine) controller = null;
  }
}

$('run').addEventListener('click', run);
$('stop').addEventListener('click', () => {
  if (controller) controller.abort();
  controller = null;
  setStatus('stopped');
});
loadConfig().then(cfg => fillModels($('model'), cfg));
