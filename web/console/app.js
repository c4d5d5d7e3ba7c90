// The console's entry: routes `/console/` (sign-in, then the lists) and `/console/sessions/<id>` (one session's
// page), and moves between them without reloading. Each page is a function that fills <main> and answers a
// teardown to run when the reader leaves it.
import { ApiError, api, currentAccess, signIn, signOut, whenSignedOut } from './api.js';
import { announce, h, time } from './dom.js';
import { sessionPage } from './session.js';

const main = document.getElementById('main');
const signOutButton = document.getElementById('sign-out');
let teardown = () => {};
let expiryTimer = 0;

/** Shows the page for the current path: the sign-in form until there is a token. */
function route(notice) {
  teardown();
  teardown = () => {};
  main.replaceChildren();
  const access = currentAccess();
  signOutButton.hidden = !access;
  if (!access) {
    signInPage(notice);
    return;
  }
  watchExpiry(access);
  const match = /^\/console\/sessions\/([^/]+)\/?$/.exec(location.pathname);
  teardown = match ? sessionPage(main, decodeURIComponent(match[1])) : listsPage(main);
}

/** Goes to `path` inside the console, as a link would, and moves focus to the new page. */
function navigate(path) {
  history.pushState(null, '', path);
  route();
  main.focus();
}

/** Back to the sign-in form when the token expires, whether or not a request noticed. */
function watchExpiry(access) {
  clearTimeout(expiryTimer);
  const left = Date.parse(access.expires_at) - Date.now();
  // setTimeout's delay is a 32-bit number; a token outliving that is checked again when it fires.
  expiryTimer = setTimeout(() => route(currentAccess() ? undefined : 'Your sign-in has expired. Sign in again.'), Math.min(left + 500, 2 ** 31 - 1));
}

/**
 * A form's submit handler: clears `error` and disables the form's button while `action` runs; if it fails, shows
 * what `failed(err)` says in `error` and enables the button again.
 */
function submitting(error, action, failed) {
  return async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const button = ev.currentTarget.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await action();
    } catch (err) {
      error.textContent = failed(err);
      button.disabled = false;
    }
  };
}

function signInPage(notice) {
  document.title = 'Sign in · edgeharness console';
  const error = h('p', { class: 'error', id: 'sign-in-error', role: 'alert' });
  const keyInput = h('input', {
    id: 'api-key', name: 'api_key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false',
    'aria-describedby': 'api-key-help sign-in-error',
  });
  const form = h(
    'form',
    {
      class: 'card narrow',
      onsubmit: submitting(error, async () => {
        await signIn(keyInput.value.trim());
        keyInput.value = '';
        announce('Signed in.');
        route();
        main.focus();
      }, (err) => {
        keyInput.focus();
        return err instanceof ApiError && err.status === 401 ? 'That API key was not accepted.' : `Could not sign in: ${err.message}`;
      }),
    },
    h('label', { for: 'api-key' }, 'API key'),
    keyInput,
    h('p', { id: 'api-key-help', class: 'hint' },
      'The key is exchanged for an access token that lasts an hour and is kept only in this tab. The key itself is not stored.'),
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  main.append(h('h1', {}, 'Sign in'), notice ? h('p', { class: 'notice', role: 'status' }, notice) : null, form);
}

/** Agents, environments and sessions in tables, and the form that starts a session. */
function listsPage(root) {
  document.title = 'edgeharness console';
  const status = h('p', { class: 'hint', role: 'status' }, 'Loading…');
  root.append(h('h1', {}, 'Agents, environments and sessions'), status);
  let alive = true;
  (async () => {
    try {
      const [agents, environments, sessions] = await Promise.all([
        api('GET', '/v1/agents?limit=100'),
        api('GET', '/v1/environments?limit=100'),
        api('GET', '/v1/sessions?limit=100'),
      ]);
      if (!alive) return;
      status.remove();
      const agentNames = new Map(agents.data.map((a) => [a.id, a.name]));
      root.append(
        createSessionForm(agents.data, environments.data),
        listSection('sessions', 'Sessions', ['Session', 'Title', 'Status', 'Agent', 'Created'], sessions.data, (s) => [
          h('a', { href: `/console/sessions/${encodeURIComponent(s.id)}`, 'data-nav': true }, h('code', {}, s.id)),
          s.title ?? '',
          s.status,
          agentNames.get(s.agent?.id) ?? s.agent?.name ?? s.agent?.id ?? '',
          time(s.created_at),
        ]),
        listSection('agents', 'Agents', ['Name', 'Id', 'Model', 'Tools', 'Created'], agents.data, (a) => [
          a.name,
          h('code', {}, a.id),
          typeof a.model === 'string' ? a.model : a.model?.id ?? '',
          (a.tools ?? []).map((t) => t.name ?? t.type).join(', '),
          time(a.created_at),
        ]),
        listSection('environments', 'Environments', ['Name', 'Id', 'Created'], environments.data, (e) => [
          e.name,
          h('code', {}, e.id),
          time(e.created_at),
        ]),
      );
    } catch (err) {
      if (alive && !(err instanceof ApiError && err.status === 401)) status.textContent = `Could not load the lists: ${err.message}`;
    }
  })();
  return () => (alive = false);
}

function listSection(id, title, columns, rows, cells) {
  return h(
    'section',
    { 'aria-labelledby': `${id}-heading` },
    h('h2', { id: `${id}-heading` }, title),
    rows.length === 0
      ? h('p', { class: 'hint' }, `No ${title.toLowerCase()} yet.`)
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { id: `${id}-table` },
            h('caption', { class: 'visually-hidden' }, title),
            h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', {}, rows.map((row) => h('tr', { dataset: { id: row.id } }, cells(row).map((cell) => h('td', {}, cell))))),
          ),
        ),
  );
}

function createSessionForm(agents, environments) {
  const error = h('p', { class: 'error', role: 'alert' });
  const agentSelect = h('select', { id: 'new-session-agent', name: 'agent', required: true },
    agents.map((a) => h('option', { value: a.id }, `${a.name} (${a.id})`)));
  const environmentSelect = h('select', { id: 'new-session-environment', name: 'environment_id', required: true },
    environments.map((e) => h('option', { value: e.id }, `${e.name} (${e.id})`)));
  const titleInput = h('input', { id: 'new-session-title', name: 'title', type: 'text', autocomplete: 'off' });
  const ready = agents.length > 0 && environments.length > 0;
  const form = h(
    'form',
    {
      id: 'new-session-form',
      class: 'card',
      'aria-labelledby': 'new-session-heading',
      onsubmit: submitting(error, async () => {
        const params = { agent: agentSelect.value, environment_id: environmentSelect.value };
        if (titleInput.value.trim()) params.title = titleInput.value.trim();
        const session = await api('POST', '/v1/sessions', params);
        navigate(`/console/sessions/${encodeURIComponent(session.id)}`);
      }, (err) => `Could not create the session: ${err.message}`),
    },
    h('h2', { id: 'new-session-heading' }, 'Start a session'),
    ready ? null : h('p', { class: 'hint' }, 'A session needs an agent and an environment; create them with the API first.'),
    h('div', { class: 'field-row' },
      h('div', { class: 'field' }, h('label', { for: 'new-session-agent' }, 'Agent'), agentSelect),
      h('div', { class: 'field' }, h('label', { for: 'new-session-environment' }, 'Environment'), environmentSelect),
      h('div', { class: 'field' }, h('label', { for: 'new-session-title' }, 'Title (optional)'), titleInput)),
    h('button', { type: 'submit', disabled: !ready }, 'Create session'),
    error,
  );
  return form;
}

// In-console links move without a reload; the browser's own back and forward buttons work too.
document.addEventListener('click', (ev) => {
  const link = ev.target instanceof Element ? ev.target.closest('a[data-nav]') : null;
  if (!link || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(link.getAttribute('href'));
});
window.addEventListener('popstate', () => route());
signOutButton.addEventListener('click', () => {
  signOut();
  announce('Signed out.');
  route('You have signed out.');
  main.focus();
});
whenSignedOut((notice) => route(notice));
route();
