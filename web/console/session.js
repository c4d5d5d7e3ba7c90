// One session's page: its events as they happen (messages written live from deltas, thinking, tool calls paired
// with their results), its status, usage, cost and limits, a timeline of model requests and tool calls, and the
// controls that talk to it: send a message, approve or deny a tool call, interrupt.
import { ApiError, api } from './api.js';
import { announce, h, time } from './dom.js';
import { openSessionEvents } from './stream.js';

const TOOL_USES = new Set(['agent.tool_use', 'agent.mcp_tool_use', 'agent.custom_tool_use']);
const CONNECTION_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: (s) => `Disconnected; reconnecting in ${s} s…`,
  closed: 'Closed',
};

/** Fills `root` with session `id`'s page; answers its teardown. */
export function sessionPage(root, id) {
  document.title = `Session ${id} · edgeharness console`;
  const path = `/v1/sessions/${encodeURIComponent(id)}`;
  const ui = layout(id);
  root.append(ui.page);

  /** tool use id → {name, element, state line, started} */
  const toolUses = new Map();
  /** model request start id → timeline entry */
  const modelSpans = new Map();
  /** agent.message id → its element while it is being written */
  const liveMessages = new Map();
  let refreshTimer = 0;
  let alive = true;

  const send = (events) => api('POST', `${path}/events`, { events });

  async function refreshSession() {
    try {
      const session = await api('GET', path);
      if (alive) showSession(ui, session);
    } catch (err) {
      if (!alive) return;
      if (err instanceof ApiError && err.status === 404) ui.heading.textContent = `Session ${id} was not found`;
    }
  }
  /** Usage and cost change with every model request: read them once things settle, not once per event. */
  const refreshSoon = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshSession, 300);
  };

  function onEvent(event, live) {
    liveMessages.get(event.id)?.remove();
    liveMessages.delete(event.id);
    ui.events.append(renderEvent(event));
    track(event, live);
  }

  /** What an event changes beyond its own element: tool states, awaiting confirmations, the timeline, the status. */
  function track(event, live) {
    switch (event.type) {
      case 'agent.tool_use':
      case 'agent.mcp_tool_use':
      case 'agent.custom_tool_use': {
        const el = ui.events.lastElementChild;
        const entry = h('li', { class: 'span span-tool' }, `Tool ${event.name}: running…`);
        ui.timeline.append(entry);
        toolUses.set(event.id, { name: event.name, element: el, state: el.querySelector('.tool-state'), started: event.processed_at, entry });
        break;
      }
      case 'agent.tool_result':
      case 'agent.mcp_tool_result':
      case 'user.custom_tool_result': {
        const use = toolUses.get(event.tool_use_id ?? event.mcp_tool_use_id ?? event.custom_tool_use_id);
        if (!use) break;
        const took = duration(use.started, event.processed_at);
        use.done = true;
        if (!use.denied) use.state.textContent = event.is_error ? `Failed after ${took}.` : `Finished in ${took}.`;
        use.element.classList.toggle('tool-failed', Boolean(event.is_error));
        if (!use.denied) use.entry.textContent = `Tool ${use.name}: ${took}${event.is_error ? ' (error)' : ''}`;
        clearConfirmation(use);
        break;
      }
      case 'user.tool_confirmation': {
        const use = toolUses.get(event.tool_use_id);
        if (!use) break;
        use.denied = event.result === 'deny';
        // The call runs from its approval: the wait for it is the user's time, not the tool's.
        if (!use.denied) use.started = event.processed_at;
        use.state.textContent = use.denied ? `Denied${event.deny_message ? `: “${event.deny_message}”` : '.'}` : 'Approved; running…';
        use.entry.textContent = `Tool ${use.name}: ${use.denied ? 'denied' : 'running…'}`;
        clearConfirmation(use);
        break;
      }
      case 'span.model_request_start': {
        const entry = h('li', { class: 'span span-model' }, 'Model request: running…');
        modelSpans.set(event.id, { started: event.processed_at, entry, open: true });
        ui.timeline.append(entry);
        break;
      }
      case 'span.model_request_end': {
        const span = modelSpans.get(event.model_request_start_id);
        const u = event.model_usage ?? {};
        if (span) {
          span.open = false;
          span.entry.textContent = `Model request: ${duration(span.started, event.processed_at)} · ${u.input_tokens ?? 0} in, ` +
            `${u.output_tokens ?? 0} out, ${u.cache_read_input_tokens ?? 0} cache read${event.is_error ? ' (error)' : ''}`;
        }
        refreshSoon();
        break;
      }
      case 'session.status_running':
        showStatus(ui, 'running');
        break;
      case 'session.status_idle':
        showStatus(ui, 'idle', stopReasonText(event.stop_reason));
        closeOpenSpans(event.processed_at);
        dropUnfinishedMessages();
        for (const useId of event.stop_reason?.type === 'requires_action' ? event.stop_reason.event_ids : []) askConfirmation(useId, live);
        refreshSoon();
        break;
      case 'session.status_rescheduled':
        showStatus(ui, 'rescheduling');
        break;
      case 'session.status_terminated':
        showStatus(ui, 'terminated');
        refreshSoon();
        break;
      case 'agent.message':
        if (live) announce('The agent replied.');
        break;
    }
  }

  /** A turn that stops (an interrupt, say) leaves the model request it cut short without an end: it ends here. */
  function closeOpenSpans(at) {
    for (const span of modelSpans.values()) {
      if (!span.open) continue;
      span.open = false;
      span.entry.textContent = `Model request: stopped after ${duration(span.started, at)}, no answer`;
    }
  }

  /** A message being written when its turn stopped (an interrupt) was never stored: its live text goes. */
  function dropUnfinishedMessages() {
    for (const el of liveMessages.values()) el.remove();
    liveMessages.clear();
  }

  function askConfirmation(useId, live) {
    const use = toolUses.get(useId);
    if (!use || use.controls) return;
    use.state.textContent = 'Waiting for your confirmation.';
    use.entry.textContent = `Tool ${use.name}: waiting for confirmation…`;
    if (use.element.dataset.eventType === 'agent.custom_tool_use') {
      use.state.textContent = 'Waiting for its result (send a user.custom_tool_result through the API).';
      return;
    }
    const reasonId = `deny-${useId}`;
    const reason = h('input', { id: reasonId, name: 'deny_message', type: 'text', autocomplete: 'off' });
    const error = h('p', { class: 'error', role: 'alert' });
    const answer = async (result) => {
      error.textContent = '';
      for (const b of use.controls.querySelectorAll('button')) b.disabled = true;
      const confirmation = { type: 'user.tool_confirmation', tool_use_id: useId, result };
      if (result === 'deny' && reason.value.trim()) confirmation.deny_message = reason.value.trim();
      try {
        await send([confirmation]);
        announce(result === 'allow' ? `Approved ${use.name}.` : `Denied ${use.name}.`);
      } catch (err) {
        error.textContent = `Could not send: ${err.message}`;
        for (const b of use.controls?.querySelectorAll('button') ?? []) b.disabled = false;
      }
    };
    use.controls = h(
      'div',
      { class: 'confirm', role: 'group', 'aria-label': `Confirm ${use.name}` },
      h('button', { type: 'button', class: 'approve', onclick: () => answer('allow') }, `Approve ${use.name}`),
      h('div', { class: 'field' }, h('label', { for: reasonId }, 'Reason for denying (optional)'), reason),
      h('button', { type: 'button', class: 'deny', onclick: () => answer('deny') }, `Deny ${use.name}`),
      error,
    );
    use.element.append(use.controls);
    if (live) announce(`${use.name} is waiting for your confirmation.`);
  }

  function clearConfirmation(use) {
    use.controls?.remove();
    use.controls = undefined;
  }

  function onStart(event) {
    if (event.type !== 'agent.message' || liveMessages.has(event.id)) return;
    const el = h('li', { class: 'event message agent live', 'aria-busy': 'true' },
      h('p', { class: 'who' }, 'Agent (writing…)'), h('div', { class: 'text' }));
    liveMessages.set(event.id, el);
    ui.events.append(el);
  }

  function onDelta(frame) {
    const el = liveMessages.get(frame.event_id);
    const text = frame.delta?.content?.text;
    if (el && typeof text === 'string') el.querySelector('.text').append(text);
  }

  const events = openSessionEvents(id, {
    onEvent,
    onStart,
    onDelta,
    onConnection: (state, detail) => {
      const text = CONNECTION_TEXT[state];
      ui.connection.textContent = typeof text === 'function' ? text(detail) : text;
      ui.connection.dataset.state = state;
      // What was written live while the socket was down is replaced by its stored event on resume.
      if (state === 'reconnecting') for (const el of liveMessages.values()) el.querySelector('.who').textContent = 'Agent (connection lost)';
    },
  });

  wireComposer(ui, send);
  refreshSession();

  return () => {
    alive = false;
    clearTimeout(refreshTimer);
    events.close();
  };
}

function layout(id) {
  const heading = h('h1', { id: 'session-heading' }, 'Session ', h('code', {}, id));
  const status = h('span', { id: 'session-status', role: 'status' }, '…');
  const connection = h('span', { id: 'connection-status', role: 'status', 'data-state': 'connecting' }, 'Connecting…');
  const usage = h('span', { id: 'session-usage' }, '…');
  const cost = h('span', { id: 'session-cost' }, '…');
  const budget = h('span', { id: 'session-budget' }, 'none');
  const limits = h('span', { id: 'session-limits' }, 'none');
  const events = h('ol', { id: 'events', class: 'events', 'aria-labelledby': 'conversation-heading' });
  const timeline = h('ol', { id: 'timeline', class: 'timeline', 'aria-labelledby': 'timeline-heading' });
  const message = h('textarea', { id: 'message', name: 'message', rows: 3, 'aria-describedby': 'message-help', required: true });
  const composerError = h('p', { class: 'error', role: 'alert' });
  const sendButton = h('button', { type: 'submit' }, 'Send');
  const interrupt = h('button', { type: 'button', class: 'interrupt' }, 'Interrupt');
  const composer = h('form', { id: 'composer', class: 'composer', 'aria-labelledby': 'composer-heading' },
    h('h2', { id: 'composer-heading', class: 'visually-hidden' }, 'Send a message'),
    h('label', { for: 'message' }, 'Message'),
    message,
    h('p', { id: 'message-help', class: 'hint' }, 'Enter sends; Shift+Enter starts a new line.'),
    h('div', { class: 'buttons' }, sendButton, interrupt),
    composerError);
  const back = h('a', { href: '/console/', 'data-nav': true }, '← All sessions');
  const dl = (rows) => h('dl', { class: 'facts' }, rows.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
  const page = h('div', { class: 'session-page' },
    h('p', {}, back),
    heading,
    h('div', { class: 'session-grid' },
      h('div', { class: 'session-main' },
        h('section', { 'aria-labelledby': 'conversation-heading' }, h('h2', { id: 'conversation-heading' }, 'Conversation'), events),
        composer),
      h('div', { class: 'session-side' },
        h('section', { 'aria-labelledby': 'status-heading', class: 'card' },
          h('h2', { id: 'status-heading' }, 'Status'),
          dl([['Session', status], ['Connection', connection], ['Tokens', usage], ['Cost', cost], ['Budget', budget], ['Limits', limits]])),
        h('section', { 'aria-labelledby': 'timeline-heading', class: 'card' },
          h('h2', { id: 'timeline-heading' }, 'Timeline'), timeline))));
  return { page, heading, status, connection, usage, cost, budget, limits, events, timeline, message, composerError, sendButton, interrupt, composer };
}

function wireComposer(ui, send) {
  ui.message.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' || ev.shiftKey || ev.isComposing) return;
    ev.preventDefault();
    ui.composer.requestSubmit();
  });
  ui.composer.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = ui.message.value;
    if (!text.trim()) return;
    ui.composerError.textContent = '';
    ui.sendButton.disabled = true;
    try {
      await send([{ type: 'user.message', content: [{ type: 'text', text }] }]);
      ui.message.value = '';
      announce('Message sent.');
    } catch (err) {
      ui.composerError.textContent = `Could not send: ${err.message}`;
    } finally {
      ui.sendButton.disabled = false;
      ui.message.focus();
    }
  });
  ui.interrupt.addEventListener('click', async () => {
    ui.composerError.textContent = '';
    try {
      await send([{ type: 'user.interrupt' }]);
      announce('Interrupt sent.');
    } catch (err) {
      ui.composerError.textContent = `Could not interrupt: ${err.message}`;
    }
  });
}

function showStatus(ui, status, detail) {
  ui.status.textContent = detail ? `${status} (${detail})` : status;
  ui.status.dataset.status = status;
}

function showSession(ui, session) {
  if (session.title) ui.heading.replaceChildren(session.title, ' ', h('code', {}, session.id));
  if (!ui.status.dataset.status) showStatus(ui, session.status);
  const u = session.usage ?? {};
  const cacheWrite = u.cache_creation ? Object.values(u.cache_creation).reduce((a, b) => a + (Number(b) || 0), 0) : 0;
  ui.usage.textContent = `${u.input_tokens ?? 0} in, ${u.output_tokens ?? 0} out, ${u.cache_read_input_tokens ?? 0} cache read, ${cacheWrite} cache write`;
  ui.cost.textContent = u.list_cost ? money(u.list_cost) : 'none';
  ui.budget.textContent = session.budget?.max_list_cost ? `${money(session.budget.max_list_cost)} at list prices` : 'none';
  const limits = Object.entries(session.limits ?? {}).filter(([, v]) => v !== null && v !== undefined);
  ui.limits.textContent = limits.length ? limits.map(([k, v]) => `${k.replace(/^max_/, '').replace(/_/g, ' ')} ≤ ${v}`).join('; ') : 'none';
}

/** One stored event as a list item carrying its id and type. */
function renderEvent(event) {
  const item = (cls, ...children) =>
    h('li', { class: `event ${cls}`, id: `ev-${event.id}`, 'data-event-id': event.id, 'data-event-type': event.type }, ...children);
  const meta = (text) => item('meta', h('p', {}, text, ' ', h('span', { class: 'when' }, time(event.processed_at))));
  switch (event.type) {
    case 'user.message':
      return item('message user', h('p', { class: 'who' }, 'You'), h('div', { class: 'text' }, textOf(event.content)));
    case 'agent.message':
      return item('message agent', h('p', { class: 'who' }, 'Agent'), h('div', { class: 'text' }, textOf(event.content)));
    case 'agent.thinking':
      return item('thinking', h('p', { class: 'who' }, 'Thinking'), h('div', { class: 'text' }, event.thinking ?? textOf(event.content) ?? ''));
    case 'agent.tool_use':
    case 'agent.mcp_tool_use':
    case 'agent.custom_tool_use':
      return item('tool-use',
        h('p', { class: 'who' }, 'Tool call: ', h('strong', {}, event.name), event.mcp_server_name ? ` (MCP server ${event.mcp_server_name})` : ''),
        h('pre', { class: 'tool-input', tabindex: 0, 'aria-label': `Input of ${event.name}` }, JSON.stringify(event.input ?? {}, null, 2)),
        h('p', { class: 'tool-state' }, TOOL_USES.has(event.type) && event.evaluated_permission === 'ask' ? 'Waiting for confirmation…' : 'Running…'));
    case 'agent.tool_result':
    case 'agent.mcp_tool_result':
    case 'user.custom_tool_result': {
      const useId = event.tool_use_id ?? event.mcp_tool_use_id ?? event.custom_tool_use_id;
      return item(`tool-result${event.is_error ? ' tool-failed' : ''}`,
        h('p', { class: 'who' }, event.is_error ? 'Tool error' : 'Tool result', ' for ', h('a', { href: `#ev-${useId}` }, 'this call')),
        h('pre', { class: 'tool-output', tabindex: 0, 'aria-label': 'Tool output' }, textOf(event.content)));
    }
    case 'user.tool_confirmation':
      return meta(event.result === 'allow' ? 'You approved the tool call.' : `You denied the tool call${event.deny_message ? `: “${event.deny_message}”` : '.'}`);
    case 'user.interrupt':
      return meta('You interrupted the agent.');
    case 'session.status_running':
      return meta('Running.');
    case 'session.status_idle':
      return meta(`Idle: ${stopReasonText(event.stop_reason)}.`);
    case 'session.status_rescheduled':
      return meta('Rescheduling after an error.');
    case 'session.status_terminated':
      return meta('Terminated.');
    case 'span.model_request_start':
      return meta('Model request started.');
    case 'span.model_request_end':
      return meta(`Model request ended${event.is_error ? ' with an error' : ''}.`);
    case 'session.error':
      return item('error-event', h('p', { class: 'who' }, `Error: ${event.error?.type ?? 'unknown'}`), h('p', {}, event.error?.message ?? ''));
    case 'system.message':
      return item('system', h('p', { class: 'who' }, 'System'), h('div', { class: 'text' }, textOf(event.content)));
    default:
      return meta(event.type);
  }
}

function textOf(content) {
  if (typeof content === 'string') return content;
  return (content ?? []).map((b) => (b.type === 'text' ? b.text : `[${b.type}]`)).join('\n');
}

function stopReasonText(reason) {
  switch (reason?.type) {
    case 'end_turn':
      return 'turn ended';
    case 'requires_action':
      return 'waiting for you';
    case 'budget_reached':
      return 'budget or limit reached';
    case 'retries_exhausted':
      return 'gave up after retries';
    case undefined:
      return 'idle';
    default:
      return reason.type.replace(/_/g, ' ');
  }
}

function duration(fromIso, toIso) {
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  if (!Number.isFinite(ms) || ms < 0) return '?';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function money({ amount, currency }) {
  const n = Number(amount);
  return `${Number.isFinite(n) ? n.toFixed(n < 1 ? 4 : 2) : amount} ${currency ?? 'USD'}`;
}
