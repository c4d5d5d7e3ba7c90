// Building DOM without a framework: `h(tag, attributes, ...children)`. Text is always set as text, never parsed as
// HTML, so event content from the API cannot inject markup.

/**
 * An element: attributes named `on<event>` become listeners, `false`/`null`/`undefined` ones are left out, `true`
 * ones are set empty; children may be strings, nodes, or (nested) arrays of them, null skipped.
 */
export function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Says `message` to screen readers through the page's polite live region. */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node after clearing makes the same message be read again.
  setTimeout(() => (region.textContent = message), 50);
}

/** A date-time as the reader's locale writes it, in a <time> element. */
export function time(iso) {
  if (!iso) return '';
  return h('time', { datetime: iso }, new Date(iso).toLocaleString());
}
