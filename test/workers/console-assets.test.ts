// The console is served by the Worker's assets binding (web/): its page at /console/, and the same page for every
// session's own path, without a key (the page asks for one); an API path never falls through to a console file.
import { SELF } from 'cloudflare:test';
import { expect, it } from 'vitest';

const BASE = 'http://edgeharness.test';

it('serves the console page at /console/ and at /console/sessions/<id>, without a key', async () => {
  const root = await SELF.fetch(`${BASE}/console/`);
  expect(root.status).toBe(200);
  expect(root.headers.get('content-type')).toMatch(/text\/html/);
  const page = await root.text();
  expect(page).toContain('<html');
  const session = await SELF.fetch(`${BASE}/console/sessions/sesn_anything`);
  expect(session.status).toBe(200);
  expect(await session.text()).toBe(page);
});

it('redirects /console to /console/', async () => {
  const res = await SELF.fetch(`${BASE}/console`, { redirect: 'manual' });
  expect([301, 307, 308]).toContain(res.status);
  expect(new URL(res.headers.get('location')!, BASE).pathname).toBe('/console/');
});

it('answers an unknown path with the API error envelope, not a console file', async () => {
  const res = await SELF.fetch(`${BASE}/nothing-here`);
  expect(res.status).toBe(404);
  expect(((await res.json()) as { type: string }).type).toBe('error');
});
