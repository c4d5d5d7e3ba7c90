// The Cloudflare provider's hands, against a fake sandbox Durable Object whose "container" runs the real tool
// runner (the official agent toolset) in child processes on this machine. No container runtime is needed.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createContainerHands, IMAGE_LAYOUT } from '../../sandbox/cloudflare/container-hands.ts';
import { DEFAULT_TOOL_TIMEOUT_MS, MAX_RESULT_CHARS, type SandboxSpec, type ToolOutcome } from '../../sandbox/hands.ts';
import { FakeSandboxes, PROJECT_ROOT } from './support/fake-sandbox.ts';

const spec = (sessionId = 'sesn_A1'): SandboxSpec => ({
  sessionId,
  workspaceId: 'wrkspc_default',
  environmentId: 'env_1',
  networking: { type: 'limited', allowed_hosts: ['api.example.com'], allow_package_managers: false, allow_mcp_servers: false },
});

const text = (outcome: ToolOutcome): string => outcome.content.map((block) => block.text).join('');

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

// The fake sandboxes are set up here per test and in credentials.test.ts per suite: a deliberate parallel.
let root: string;
let sandboxes: FakeSandboxes;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'eh-cf-hands-'));
  sandboxes = new FakeSandboxes(root);
});

afterEach(() => {
  sandboxes.killAll();
  rmSync(root, { recursive: true, force: true });
});

describe('cloudflare hands', () => {
  it('opens no sandbox for a session until its first tool call', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    expect(sandboxes.opened).toEqual([]);

    const outcome = await hands.execute(spec('sesn_A1'), { name: 'bash', input: { command: 'echo hello' }, idempotencyKey: 'sevt_1' });

    expect(outcome).toEqual({ content: [{ type: 'text', text: 'hello' }], isError: false, sandboxStart: 'cold' });
    expect(new Set(sandboxes.opened)).toEqual(new Set(['sesn_A1']));
    expect(sandboxes.session('sesn_A1').containersStarted).toBe(1);
    expect(sandboxes.bySession.has('sesn_B2')).toBe(false);
  });

  it("applies the session's networking to the sandbox before running anything", async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    await hands.execute(spec(), { name: 'bash', input: { command: 'true' }, idempotencyKey: 'sevt_1' });
    expect(sandboxes.session('sesn_A1').networkingApplied).toEqual([spec().networking]);
  });

  it("says whether a call is the first in its container: cold, then warm, also from a fresh isolate's hands", async () => {
    const first = await createContainerHands(sandboxes.open, { layout: sandboxes.layout }).execute(spec(), { name: 'bash', input: { command: 'echo one' }, idempotencyKey: 'sevt_1' });
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const second = await hands.execute(spec(), { name: 'bash', input: { command: 'echo two' }, idempotencyKey: 'sevt_2' });
    const third = await hands.execute(spec(), { name: 'read', input: { file_path: 'missing.txt' }, idempotencyKey: 'sevt_3' });

    expect([text(first), first.sandboxStart]).toEqual(['one', 'cold']);
    expect([text(second), second.sandboxStart]).toEqual(['two', 'warm']);
    expect([third.isError, third.sandboxStart]).toEqual([true, 'warm']); // a tool's own error still ran in the sandbox
    expect(sandboxes.session('sesn_A1').containersStarted).toBe(1);
  });

  it('runs the toolset in the workspace: a file bash writes is read back by a later call', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const wrote = await hands.execute(spec(), { name: 'bash', input: { command: 'echo from-bash > notes.txt' }, idempotencyKey: 'sevt_1' });
    expect(wrote.isError).toBe(false);

    const read = await hands.execute(spec(), { name: 'read', input: { file_path: 'notes.txt' }, idempotencyKey: 'sevt_2' });

    expect(read.isError).toBe(false);
    expect(text(read)).toContain('from-bash');
    expect(readFileSync(path.join(sandboxes.layout.workspaceDir, 'notes.txt'), 'utf8')).toBe('from-bash\n');
  });

  it('returns the recorded outcome for a repeated idempotency key without running the tool again', async () => {
    const call = { name: 'bash', input: { command: 'echo run >> runs.txt; wc -l < runs.txt' }, idempotencyKey: 'sevt_once' };
    const first = await createContainerHands(sandboxes.open, { layout: sandboxes.layout }).execute(spec(), call);
    // a brain re-woken after a crash: a fresh isolate, so fresh hands, same Durable Object
    const again = await createContainerHands(sandboxes.open, { layout: sandboxes.layout }).execute(spec(), call);

    expect(first).toEqual({ content: [{ type: 'text', text: '1' }], isError: false, sandboxStart: 'cold' });
    expect(again).toEqual(first);
    expect(sandboxes.session('sesn_A1').runnerCalls).toBe(1);
    expect(readFileSync(path.join(sandboxes.layout.workspaceDir, 'runs.txt'), 'utf8')).toBe('run\n');
  });

  it('a repeat while the first run is still in flight waits for it and gets its outcome', async () => {
    const first = createContainerHands(sandboxes.open, { layout: sandboxes.layout, pollIntervalMs: 10 });
    const second = createContainerHands(sandboxes.open, { layout: sandboxes.layout, pollIntervalMs: 10 });
    const call = { name: 'bash', input: { command: 'echo run >> runs.txt; echo done' }, idempotencyKey: 'sevt_slow' };
    let release = (): void => {};
    const held = new Promise<void>((resolve) => { release = resolve; });
    let firstRunStarted = false;
    sandboxes.open('sesn_A1'); // create the fake so that the test can hold its runner call back
    sandboxes.session('sesn_A1').beforeExec = async (command) => {
      if (command.includes('run-one-call.ts')) {
        firstRunStarted = true;
        await held;
      }
    };

    const firstOutcome = first.execute(spec(), call);
    await until(() => firstRunStarted, 'the first run to start');
    const secondOutcome = second.execute(spec(), call);
    release();

    expect(await secondOutcome).toEqual(await firstOutcome);
    expect(text(await firstOutcome)).toBe('done');
    expect(sandboxes.session('sesn_A1').runnerCalls).toBe(1);
  });

  it('reports a call that was started and never finished as interrupted, and does not run it again', async () => {
    let clock = 1_000_000;
    const crashed = createContainerHands(sandboxes.open, { layout: sandboxes.layout, now: () => clock });
    const call = { name: 'bash', input: { command: 'echo run >> runs.txt' }, idempotencyKey: 'sevt_lost' };
    let runAttempts = 0;
    sandboxes.open('sesn_A1');
    // the step running the call dies mid-call: its command never completes (later commands run normally)
    sandboxes.session('sesn_A1').beforeExec = async (command) => {
      if (command.includes('run-one-call.ts') && ++runAttempts === 1) await new Promise<void>(() => {});
    };
    void crashed.execute(spec(), call);
    await until(() => runAttempts === 1, 'the run to start');

    clock += DEFAULT_TOOL_TIMEOUT_MS + 10 * 60_000; // past the call's timeout and every grace period
    const successor = createContainerHands(sandboxes.open, { layout: sandboxes.layout, now: () => clock });
    const outcome = await successor.execute(spec(), call);

    expect(outcome.isError).toBe(true);
    expect(text(outcome)).toMatch(/started earlier and never finished.*not re-run/s);
    expect(runAttempts).toBe(1);
    // and every later repeat gets the same answer straight from the ledger
    expect(await successor.execute(spec(), call)).toEqual(outcome);
  });

  it('a container that dies mid-command is an error result, and the next call gets a fresh container', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    await hands.execute(spec(), { name: 'bash', input: { command: 'echo before > before.txt' }, idempotencyKey: 'sevt_0' });
    const marker = path.join(sandboxes.layout.workspaceDir, 'started');

    const dying = hands.execute(spec(), { name: 'bash', input: { command: 'touch started; sleep 60' }, idempotencyKey: 'sevt_1' });
    await until(() => existsSync(marker), 'the command to start');
    sandboxes.session('sesn_A1').killContainer();
    const died = await dying;

    expect(died.isError).toBe(true);
    expect(text(died)).toMatch(/sandbox stopped, or stopped answering, while running this bash call/);

    const next = await hands.execute(spec(), { name: 'bash', input: { command: 'echo alive; ls' }, idempotencyKey: 'sevt_2' });
    expect(next.isError).toBe(false);
    expect(next.sandboxStart).toBe('cold'); // the first call in the fresh container
    expect(text(next)).toBe('alive'); // and `ls` lists nothing: a fresh container's workspace starts empty
    const sandbox = sandboxes.session('sesn_A1');
    expect(sandbox.containersStarted).toBe(2);
    expect(sandbox.networkingApplied).toHaveLength(2); // the fresh container was configured again
    // the error is what a repeat of the interrupted call gets; it is not run again
    expect(await hands.execute(spec(), { name: 'bash', input: { command: 'touch started; sleep 60' }, idempotencyKey: 'sevt_1' })).toEqual(died);
  });

  it('stops a call that runs past its timeout and says so', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const outcome = await hands.execute(spec(), { name: 'bash', input: { command: 'sleep 30' }, idempotencyKey: 'sevt_1', timeoutMs: 300 });
    expect(outcome.isError).toBe(true);
    expect(text(outcome)).toContain('timed out after 300 ms');
  });

  it('gives a call without its own timeout the default of 120 s', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    await hands.execute(spec(), { name: 'bash', input: { command: 'true' }, idempotencyKey: 'sevt_1' });
    const callFile = sandboxes.session('sesn_A1').writes.find((w) => w.path === path.join(sandboxes.layout.callDir, 'sevt_1.json'));
    expect(JSON.parse(callFile?.content ?? '{}')).toMatchObject({ name: 'bash', key: 'sevt_1', timeoutMs: DEFAULT_TOOL_TIMEOUT_MS });
  });

  it('truncates an output over 100,000 characters and keeps the whole of it in the workspace', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const outcome = await hands.execute(spec(), {
      name: 'bash',
      input: { command: "head -c 300000 /dev/zero | tr '\\0' x" },
      idempotencyKey: 'sevt_big',
    });

    expect(outcome.isError).toBe(false);
    expect(text(outcome).length).toBeLessThanOrEqual(MAX_RESULT_CHARS);
    const saved = path.join(sandboxes.layout.workspaceDir, '.edgeharness', 'outputs', 'sevt_big.txt');
    expect(text(outcome)).toContain(saved);
    expect(readFileSync(saved, 'utf8')).toBe('x'.repeat(300_000));
  });

  it('turns a sandbox that cannot be reached into an error result, not a thrown error', async () => {
    const hands = createContainerHands(() => {
      throw new Error('the SANDBOX Durable Object binding is missing');
    });
    const outcome = await hands.execute(spec(), { name: 'bash', input: { command: 'true' }, idempotencyKey: 'sevt_1' });
    expect(outcome.isError).toBe(true);
    expect(text(outcome)).toContain('the SANDBOX Durable Object binding is missing');
  });

  it('destroy stops the container and forgets the session', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    await hands.execute(spec(), { name: 'bash', input: { command: 'true' }, idempotencyKey: 'sevt_1' });
    await hands.destroy('sesn_A1');
    await hands.destroy('sesn_A1');

    const sandbox = sandboxes.session('sesn_A1');
    expect(sandbox.destroyed).toBe(2);
    expect(sandbox.calls.records.size).toBe(0);
  });

  it('names call files by the idempotency key, and by a digest when the key is not a safe file name', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    await hands.execute(spec(), { name: 'bash', input: { command: 'true' }, idempotencyKey: 'sevt_01ABCxyz' });
    await hands.execute(spec(), { name: 'bash', input: { command: 'true' }, idempotencyKey: '../../etc/passwd' });

    const written = sandboxes.session('sesn_A1').writes.map((w) => path.relative(sandboxes.layout.callDir, w.path));
    expect(written).toEqual(['sevt_01ABCxyz.json', expect.stringMatching(/^key-[0-9a-f]{64}\.json$/)]);
  });
});

describe('the user a container runs tools as', () => {
  const answered = JSON.stringify({ type: 'result', id: 1, text: 'ok', isError: false });

  it('is the image\'s unprivileged user: each call switches to it with setpriv, which it cannot undo', async () => {
    expect(IMAGE_LAYOUT.sandboxUser).toEqual({ uid: 10001, gid: 10001 });
    const image = new FakeSandboxes(root, { sandboxUser: IMAGE_LAYOUT.sandboxUser });
    const hands = createContainerHands(image.open, { layout: image.layout });
    image.open('sesn_A1');
    image.session('sesn_A1').answer = () => ({ exitCode: 0, stdout: `${answered}\n`, stderr: '' });
    const creds = { ...spec(), credentials: [{ credentialId: 'vcrd_1', vaultId: 'vlt_1', name: 'TOKEN', placeholder: 'edgeharness_placeholder_x', value: 'never-in-a-command', networking: { type: 'unrestricted' as const }, injection: { header: true, body: false } }] };

    expect(await hands.execute(creds, { name: 'bash', input: { command: 'id -u' }, idempotencyKey: 'sevt_1' })).toEqual({ content: [{ type: 'text', text: 'ok' }], isError: false });

    const [provision, call] = image.session('sesn_A1').commands;
    const workspace = image.layout.workspaceDir;
    const calls = image.layout.callDir;
    const callFile = path.join(calls, 'sevt_1.json');
    // the workspace is the sandbox user's alone; the call files' directory root's alone
    expect(provision).toBe(`mkdir -p ${workspace} && chown 10001:10001 ${workspace} && chmod 700 ${workspace} && mkdir -p ${calls} && chmod 700 ${calls}`);
    expect(image.session('sesn_A1').writes.map((w) => w.path)).toEqual([callFile]);
    // everything of the call runs as that user, with the workspace as its home; root's shell opens the call file
    // for it (no chown, no name it could have planted) and removes it afterwards; first, as root, the mark of a
    // container that has run a call
    const state = image.layout.stateDir;
    expect(call).toBe([
      `( if [ -e ${state}/container-started ]; then echo edgeharness-sandbox-start=warm;`,
      `else mkdir -p -m 700 ${state} && : > ${state}/container-started; echo edgeharness-sandbox-start=cold; fi;`,
      `cd ${workspace} &&`,
      `env HOME=${workspace} TOKEN=edgeharness_placeholder_x`,
      `timeout -k 5 ${Math.ceil((DEFAULT_TOOL_TIMEOUT_MS + 30_000) / 1000)}`,
      'setpriv --reuid=10001 --regid=10001 --clear-groups --inh-caps=-all --no-new-privs --',
      `${image.layout.nodeBinary} ${image.layout.oneCall} --runner ${image.layout.toolRunner} --workdir ${workspace} --max-chars ${MAX_RESULT_CHARS}`,
      `< ${callFile}; code=$?; rm -f ${callFile}; exit $code)`,
    ].join(' '));
    expect(IMAGE_LAYOUT.callDir).toBe('/opt/edgeharness/calls');
    expect(call).not.toContain('never-in-a-command');
  });

  it('reads its workspace and nothing of root\'s, when the command really runs (as nobody, on this machine)', async ({ skip }) => {
    if (process.getuid?.() !== 0) return skip('only root can switch users');
    const nobody = { uid: 65534, gid: 65534 };
    const reachable = spawnSync('setpriv', [`--reuid=${nobody.uid}`, `--regid=${nobody.gid}`, '--clear-groups', 'test', '-r', path.join(PROJECT_ROOT, 'node_modules', '@anthropic-ai', 'sdk', 'package.json')]);
    if (reachable.status !== 0) return skip('this checkout is not readable by nobody (a directory above it is private)');
    chmodSync(root, 0o711); // the fake container's directories live here; /workspace and /tmp hang off / in the image
    const fake = new FakeSandboxes(root, { sandboxUser: nobody });
    const { layout } = fake;
    const hands = createContainerHands(fake.open, { layout });

    const who = await hands.execute(spec(), { name: 'bash', input: { command: 'id -u; id -G; echo "$HOME"; grep -E "^Cap(Prm|Eff)|^NoNewPrivs" /proc/self/status; echo mine > mine.txt; cat /etc/shadow' }, idempotencyKey: 'sevt_1' });
    expect(text(who).split('\n')).toEqual(['65534', '65534', layout.workspaceDir, 'CapPrm:\t0000000000000000', 'CapEff:\t0000000000000000', 'NoNewPrivs:\t1', 'cat: /etc/shadow: Permission denied']);
    expect(statSync(path.join(layout.workspaceDir, 'mine.txt')).uid).toBe(65534);
    const read = await hands.execute(spec(), { name: 'read', input: { file_path: 'mine.txt' }, idempotencyKey: 'sevt_2' });
    expect(text(read)).toContain('mine');
    // root removed the call files; the sandbox user could not even look for them
    expect(readdirSync(layout.callDir)).toEqual([]);
    const look = await hands.execute(spec(), { name: 'bash', input: { command: `ls ${layout.callDir}` }, idempotencyKey: 'sevt_3' });
    expect(text(look)).toContain('Permission denied');
    fake.killAll();
  });

  it('cannot have root write or hand over another file through a link planted where a call file would go (as nobody, on this machine)', async ({ skip }) => {
    if (process.getuid?.() !== 0) return skip('only root can switch users');
    const nobody = { uid: 65534, gid: 65534 };
    const reachable = spawnSync('setpriv', [`--reuid=${nobody.uid}`, `--regid=${nobody.gid}`, '--clear-groups', 'test', '-r', path.join(PROJECT_ROOT, 'node_modules', '@anthropic-ai', 'sdk', 'package.json')]);
    if (reachable.status !== 0) return skip('this checkout is not readable by nobody (a directory above it is private)');
    chmodSync(root, 0o711);
    const fake = new FakeSandboxes(root, { sandboxUser: nobody });
    const hands = createContainerHands(fake.open, { layout: fake.layout });
    // stands for /etc/shadow: root's, readable by root alone
    const canary = path.join(root, 'canary');
    writeFileSync(canary, 'root only\n', { mode: 0o600 });

    // the sandbox user links the next call's file name, in every directory it can write, to root's file
    // (and tries the call files' directory, which it may not enter)
    const names = ['edgeharness-call-sevt_2.json', 'sevt_2.json'];
    const plant = await hands.execute(spec(), {
      name: 'bash',
      input: { command: `for d in ${fake.tmpDir} ${fake.layout.workspaceDir} ${fake.layout.callDir}; do for n in ${names.join(' ')}; do ln -s ${canary} "$d/$n"; done; done; ls ${fake.tmpDir}` },
      idempotencyKey: 'sevt_1',
    });
    expect(text(plant)).toContain('edgeharness-call-sevt_2.json');
    const next = await hands.execute(spec(), { name: 'bash', input: { command: 'echo second' }, idempotencyKey: 'sevt_2' });

    expect(text(next)).toBe('second');
    expect(statSync(canary).uid).toBe(0);
    expect(statSync(canary).mode & 0o777).toBe(0o600);
    expect(readFileSync(canary, 'utf8')).toBe('root only\n');
    fake.killAll();
  });
});

