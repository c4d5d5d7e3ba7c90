// End to end: the console (web/console/) in a real browser against the real runtime and the scripted model —
// sign-in, the lists, starting a session, talking to it, confirming tool calls, interrupting — and each page
// checked with axe for serious accessibility faults.
import Anthropic from '@anthropic-ai/sdk';
import type { AxeResults } from 'axe-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCuttableProxy, type CuttableProxy } from '../support/cuttable-proxy.ts';
import { startScriptedRuntime } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

type Event = Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent;

const ARTIFACTS = path.resolve('test-artifacts/console');
const AXE = path.resolve('node_modules/axe-core/axe.min.js');
const WAIT = { timeout: 30_000 };

/** Launches the machine's Chromium (never a downloaded one). */
function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Runs axe on the page as it is now; answers the serious and critical violations, one line each. */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  const results = (await page.evaluate('axe.run()')) as AxeResults;
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Every stored event of the session, in log order. */
async function storedEvents(client: Anthropic, sessionId: string): Promise<Event[]> {
  const events: Event[] = [];
  for await (const ev of client.beta.sessions.events.list(sessionId, { limit: 1000 })) events.push(ev as Event);
  return events;
}

/** The event ids the page shows, in page order. */
function shownEventIds(page: Page): Promise<string[]> {
  return page.locator('[data-event-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-event-id') ?? ''));
}

describe('the console', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('console'), (run) => run.stop());
  let browser: Browser;
  let page: Page;
  let agentName: string;
  let sessionId: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // An agent whose every tool call waits for confirmation, and an environment to run it in.
    agentName = 'console helper';
    await e2e.client.beta.agents.create({
      name: agentName,
      model: 'claude-sonnet-5-5',
      tools: [{ type: 'agent_toolset_20260401', default_config: { permission_policy: { type: 'always_ask' } } }],
    });
    await e2e.client.beta.environments.create({ name: 'console env' });
    browser = await launchChromium();
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  const lastOfType = (type: string) => page.locator(`[data-event-type="${type}"]`).last();

  it('signs in with an API key and keeps only a short-lived access token, in sessionStorage', async () => {
    await page.goto(`${e2e.runtime.url}/console/`);
    const key = page.getByLabel('API key');
    await key.waitFor(WAIT);
    expect(await key.getAttribute('name')).toBe('api_key');
    expect(await seriousViolations(page)).toEqual([]);
    await shot('sign-in');

    await page.getByLabel('API key').fill('not-the-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That API key was not accepted.').waitFor(WAIT);

    await page.getByLabel('API key').fill(e2e.runtime.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#agents-table').getByText(agentName).waitFor(WAIT);
    await page.locator('#environments-table').getByText('console env').waitFor(WAIT);
    expect(await page.getByRole('heading', { name: 'Sessions', exact: true }).count()).toBe(1);

    const stored = (await page.evaluate('JSON.stringify({ session: { ...sessionStorage }, local: { ...localStorage } })')) as string;
    expect(stored).not.toContain(e2e.runtime.apiKey);
    const { session, local } = JSON.parse(stored) as { session: Record<string, string>; local: Record<string, string> };
    expect(local).toEqual({});
    const access = JSON.parse(Object.values(session)[0]!) as { token: string; expires_at: string };
    expect(Date.parse(access.expires_at)).toBeGreaterThan(Date.now());
    // The token works as the key does.
    const res = await fetch(`${e2e.runtime.url}/v1/agents`, { headers: { authorization: `Bearer ${access.token}` } });
    expect(res.status).toBe(200);

    expect(await seriousViolations(page)).toEqual([]);
    await shot('lists');
  });

  it('starts a session from the form and opens its page', async () => {
    await page.getByRole('button', { name: 'Create session' }).click();
    await page.waitForURL(/\/console\/sessions\/sesn_/, WAIT);
    sessionId = decodeURIComponent(new URL(page.url()).pathname.split('/').at(-1)!);
    expect((await e2e.client.beta.sessions.retrieve(sessionId)).id).toBe(sessionId);
    await expect.poll(() => page.locator('#connection-status').textContent(), WAIT).toBe('Live');
  });

  it('sends a message with Enter, shows the tool call, runs it once approved, and streams the answer', async () => {
    // Record whether an answer was ever shown while being written (live, from deltas).
    await page.evaluate(`new MutationObserver(() => { if (document.querySelector('.event.live')) window.sawLive = true; })
      .observe(document.getElementById('events'), { childList: true, subtree: true, characterData: true })`);
    const message = page.locator('textarea[name="message"]');
    await message.fill('[[tool:bash {"command":"echo hi"}]]');
    await message.press('Enter');

    const use = lastOfType('agent.tool_use');
    await use.waitFor(WAIT);
    await expect.poll(() => use.textContent()).toContain('echo hi');
    const approve = use.getByRole('button', { name: 'Approve bash' });
    await approve.waitFor(WAIT);
    await shot('awaiting-confirmation');
    await approve.click();

    await expect.poll(() => lastOfType('agent.tool_result').textContent(), WAIT).toContain('hi');
    await lastOfType('agent.message').waitFor(WAIT);
    await expect.poll(() => page.locator('#session-status').textContent(), WAIT).toMatch(/^idle/);
    expect(await page.evaluate('window.sawLive === true')).toBe(true);
    expect(await page.locator('.event.live').count()).toBe(0);
    // The timeline shows the model requests and the tool call.
    await expect.poll(() => page.locator('#timeline .span-tool').textContent(), WAIT).toMatch(/^Tool bash: [\d.]+ (ms|s)$/);
    expect(await page.locator('#timeline .span-model').count()).toBeGreaterThanOrEqual(2);
    expect(await message.inputValue()).toBe('');
  });

  it('denies a tool call with a message', async () => {
    const message = page.locator('textarea[name="message"]');
    await message.fill('[[tool:bash {"command":"echo must-not-run"}]]');
    await message.press('Enter');
    const use = page.locator('[data-event-type="agent.tool_use"]').nth(1);
    await use.getByRole('button', { name: 'Deny bash' }).waitFor(WAIT);
    await use.getByLabel('Reason for denying (optional)').fill('Not on my machine.');
    await use.getByRole('button', { name: 'Deny bash' }).click();
    await expect.poll(() => lastOfType('agent.tool_result').textContent(), WAIT).toContain('Not on my machine.');
    await expect.poll(() => page.locator('#session-status').textContent(), WAIT).toMatch(/^idle/);

    const confirmations = (await storedEvents(e2e.client, sessionId)).filter((e) => e.type === 'user.tool_confirmation');
    expect(confirmations.map((c) => ({ result: c.result, deny_message: c.deny_message ?? undefined }))).toEqual([
      { result: 'allow', deny_message: undefined },
      { result: 'deny', deny_message: 'Not on my machine.' },
    ]);
  });

  it('keeps Shift+Enter as a new line and interrupts a slow turn', async () => {
    const message = page.locator('textarea[name="message"]');
    await message.fill('[[delay 20000]]');
    await message.press('Shift+Enter');
    await message.press('End');
    await message.type('[[reply:too late]]');
    expect(await message.inputValue()).toBe('[[delay 20000]]\n[[reply:too late]]');
    await message.press('Enter');
    await expect.poll(() => page.locator('#session-status').textContent(), WAIT).toBe('running');
    await page.getByRole('button', { name: 'Interrupt' }).click();
    await lastOfType('user.interrupt').waitFor(WAIT);
    await expect.poll(() => page.locator('#session-status').textContent(), WAIT).toMatch(/^idle/);
    const events = await storedEvents(e2e.client, sessionId);
    expect(events.some((e) => e.type === 'user.interrupt')).toBe(true);
    expect(JSON.stringify(events)).not.toContain('"text":"too late"');
  });

  it('shows every stored event once, in log order, with usage and an accessible page', async () => {
    const stored = (await storedEvents(e2e.client, sessionId)).map((e) => e.id);
    await expect.poll(() => shownEventIds(page), WAIT).toEqual(stored);
    expect(new Set(stored).size).toBe(stored.length);
    await expect.poll(() => page.locator('#session-usage').textContent(), WAIT).toMatch(/, [1-9]\d* out,/);
    expect(await seriousViolations(page)).toEqual([]);
    await shot('session');

    // A reload rebuilds the same page from the log.
    await page.reload();
    await expect.poll(() => page.locator('#connection-status').textContent(), WAIT).toBe('Live');
    expect(await shownEventIds(page)).toEqual(stored);
  });

  it('works from the keyboard alone: sign in, start a session, send a message', async () => {
    const tabPage = await browser.newPage();
    /** Presses Tab until the focused element matches `selector`; fails if it never does. */
    const tabTo = async (selector: string) => {
      for (let i = 0; i < 40; i++) {
        await tabPage.keyboard.press('Tab');
        if (await tabPage.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return;
      }
      throw new Error(`Tab never reached ${selector}`);
    };
    await tabPage.goto(`${e2e.runtime.url}/console/`);
    await tabPage.getByLabel('API key').waitFor(WAIT);
    await tabTo('.skip-link');
    await tabTo('input[name="api_key"]');
    await tabPage.keyboard.type(e2e.runtime.apiKey);
    await tabPage.keyboard.press('Enter');
    await tabPage.locator('#agents-table').waitFor(WAIT);
    await tabTo('#new-session-form button[type="submit"]');
    await tabPage.keyboard.press('Enter');
    await tabPage.waitForURL(/\/console\/sessions\/sesn_/, WAIT);
    await expect.poll(() => tabPage.locator('#connection-status').textContent(), WAIT).toBe('Live');
    await tabTo('textarea[name="message"]');
    await tabPage.keyboard.type('[[reply:typed without a mouse]]');
    await tabPage.keyboard.press('Enter');
    await expect.poll(() => tabPage.locator('[data-event-type="agent.message"]').last().textContent(), WAIT).toContain('typed without a mouse');
    await tabPage.close();
  });

  it('goes back to sign-in when the access token expires, and signs out on request', async () => {
    // The stored token, made to expire in a moment.
    await page.evaluate(`for (const k of Object.keys(sessionStorage)) {
      const access = JSON.parse(sessionStorage.getItem(k));
      sessionStorage.setItem(k, JSON.stringify({ ...access, expires_at: new Date(Date.now() + 1500).toISOString() }));
    }`);
    await page.reload();
    await page.getByText('Your sign-in has expired. Sign in again.').waitFor(WAIT);
    expect(await page.getByLabel('API key').count()).toBe(1);
    expect(page.url()).toContain(`/console/sessions/${sessionId}`);

    await page.getByLabel('API key').fill(e2e.runtime.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#connection-status').textContent(), WAIT).toBe('Live');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor(WAIT);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });
});

describe('the console across a dropped connection', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('console-reconnect'), (run) => run.stop());
  let browser: Browser;
  let proxy: CuttableProxy;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    proxy = await startCuttableProxy(e2e.runtime.url);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
  });

  it('reconnects mid-turn with a fresh token and shows each event once, in order', async () => {
    const agent = await e2e.client.beta.agents.create({ name: 'talker', model: 'claude-sonnet-5-5' });
    const environment = await e2e.client.beta.environments.create({ name: 'reconnect env' });
    const session = await e2e.client.beta.sessions.create({
      agent: agent.id,
      environment_id: environment.id,
      budget: { type: 'limit', max_list_cost: { amount: '5.00', currency: 'USD' } },
      // The limits extension (docs/api-extensions.md), which the SDK's types do not name.
      ...({ limits: { max_tool_calls: 20 } } as object),
    });
    const page = await browser.newPage();

    // A link to a session asks for the key first, then opens that session.
    await page.goto(`${proxy.url}/console/sessions/${session.id}`);
    await page.getByLabel('API key').fill(e2e.runtime.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#connection-status').textContent(), WAIT).toBe('Live');
    await expect.poll(() => page.locator('#session-budget').textContent(), WAIT).toBe('5.00 USD at list prices');
    expect(await page.locator('#session-limits').textContent()).toBe('tool calls ≤ 20');
    await page.evaluate(`window.connectionStates = [];
      new MutationObserver(() => window.connectionStates.push(document.getElementById('connection-status').dataset.state))
        .observe(document.getElementById('connection-status'), { attributes: true, childList: true, characterData: true, subtree: true })`);

    const message = page.locator('textarea[name="message"]');
    await message.fill('[[delay 3000]] [[reply:said across the cut]]');
    await message.press('Enter');
    await expect.poll(() => page.locator('#session-status').textContent(), WAIT).toBe('running');
    expect(proxy.cut()).toBeGreaterThan(0);

    await expect.poll(() => page.locator('[data-event-type="agent.message"]').last().textContent(), WAIT).toContain('said across the cut');
    await expect.poll(() => page.locator('#session-status').textContent(), WAIT).toMatch(/^idle/);
    await expect.poll(() => page.locator('#connection-status').textContent(), WAIT).toBe('Live');
    const states = (await page.evaluate('window.connectionStates')) as string[];
    expect(states).toContain('reconnecting');

    const stored = (await storedEvents(e2e.client, session.id)).map((e) => e.id);
    await expect.poll(() => shownEventIds(page), WAIT).toEqual(stored);
    expect(stored.length).toBeGreaterThanOrEqual(5);
    await page.screenshot({ path: path.join(ARTIFACTS, 'after-reconnect.png'), fullPage: true });

    // Still live after the reconnect: the next turn arrives too.
    await message.fill('[[reply:and after it]]');
    await message.press('Enter');
    await expect.poll(() => page.locator('[data-event-type="agent.message"]').last().textContent(), WAIT).toContain('and after it');
    await expect.poll(async () => (await shownEventIds(page)).join(), WAIT).toBe((await storedEvents(e2e.client, session.id)).map((e) => e.id).join());
  });
});
