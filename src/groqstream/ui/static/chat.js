// The chat page: POST /api/chat, read the SSE relay, render tokens, reasoning, tool calls and
// live figures. Stop aborts the fetch, which closes the connection: the server then closes
// the upstream stream, so the model stops generating.
import { postSSE, loadConfig, fillModels, ms } from './sse.js';

const $ = id => document.getElementById(id);
const byTest = id => document.querySelector(`[data-testid="${id}"]`);
let controller = null;
let answerText, reasoningText, itl, reasoningChars;

function setStatus(state) {
  const el = byTest('status');
  el.dataset.state = state;
  el.textContent = state;
  const busy = state === 'streaming';
  $('send').disabled = busy;
  $('stop').disabled = !busy;
}

function reset() {
  const answer = $('answer');
  answer.textContent = '';
  answer.classList.add('empty');
  answerText = answer.appendChild(document.createTextNode(''));
  $('reasoning').textContent = '';
  reasoningText = $('reasoning').appendChild(document.createTextNode(''));
  reasoningChars = 0;
  $('reasoning-count').textContent = '';
  $('tool-calls').textContent = '';
  $('done-info').textContent = '';
  $('error').classList.add('hidden');
  for (const id of ['ttft', 'tokens-per-s', 'itl', 'tokens']) byTest(id).textContent = '–';
  byTest('elapsed').textContent = '';
  itl = [];
  drawSparkline();
}

function drawSparkline() {
  const pts = itl.slice(-150);
  const max = Math.max(...pts, 1e-9);
  const step = pts.length > 1 ? 300 / (pts.length - 1) : 0;
  $('spark').setAttribute(
    'points',
    pts.map((v, i) => `${(i * step).toFixed(1)},${(38 - (v / max) * 36).toFixed(1)}`).join(' '),
  );
}

function showError(text) {
  const el = $('error');
  el.textContent = text;
  el.classList.remove('hidden');
}

const handlers = {
  reasoning(d) {
    reasoningText.appendData(d.text);
    reasoningChars += d.text.length;
    $('reasoning-count').textContent = `(${reasoningChars} chars)`;
    $('reasoning-panel').open = true;
  },
  content(d) {
    $('answer').classList.remove('empty');
    answerText.appendData(d.text);
  },
  tool_call(d) {
    const el = document.createElement('div');
    el.className = 'tool';
    el.dataset.testid = 'tool-call';
    const name = document.createElement('b');
    name.textContent = d.name;
    el.append('tool call ', name, ` (${d.id}) `, d.arguments);
    $('tool-calls').appendChild(el);
    $('answer').classList.remove('empty');
  },
  metrics(d) {
    byTest('ttft').textContent = ms(d.ttft_s);
    byTest('tokens-per-s').textContent = d.tokens_per_s == null ? '–' : d.tokens_per_s.toFixed(0);
    byTest('itl').textContent = ms(d.itl_mean_s);
    byTest('tokens').textContent = d.output_tokens;
    byTest('elapsed').textContent = `· ${d.elapsed_s.toFixed(2)} s`;
    for (const v of d.itl_s) itl.push(v);
    drawSparkline();
  },
  done(d) {
    const u = d.usage || {};
    $('done-info').textContent =
      `finish: ${d.finish_reason} · prompt ${u.prompt_tokens ?? '?'} + completion ` +
      `${u.completion_tokens ?? '?'} tokens · ${d.model ?? ''} · request ${d.request_id ?? '–'}`;
    setStatus('done');
  },
  error(d) {
    showError(`${d.type}: ${d.message}${d.partial ? ' (the text above arrived before it)' : ''}`);
    setStatus('error');
  },
};

async function send() {
  if (controller) controller.abort();
  reset();
  setStatus('streaming');
  const mine = (controller = new AbortController());
  const maxTokens = parseInt($('max-tokens').value, 10);
  const body = {
    prompt: $('prompt').value,
    model: $('model').value || undefined,
    max_tokens: Number.isFinite(maxTokens) ? maxTokens : undefined,
    tools: $('tools').checked,
  };
  try {
    for await (const ev of postSSE('/api/chat', body, mine.signal)) handlers[ev.event]?.(ev.data);
    if (byTest('status').dataset.state === 'streaming') {
      showError('the connection closed before the stream was done');
      setStatus('error');
    }
  } catch (e) {
    if (e.name === 'AbortError') {
      if (controller === mine) setStatus('stopped');
    } else {
      showError(e.message || String(e));
      setStatus('error');
    }
  } finally {
    if (controller === mine) controller = null;
  }
}

function stop() {
  if (!controller) return;
  controller.abort();
  controller = null;
  setStatus('stopped');
}

$('send').addEventListener('click', send);
$('stop').addEventListener('click', stop);
$('prompt').addEventListener('keydown', e => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send();
});
reset();
loadConfig().then(cfg => fillModels($('model'), cfg));
