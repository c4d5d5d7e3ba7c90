// What a sandbox's traffic may reach on the machine it runs on: never the machine itself (where the runtime's API,
// model, sandbox host and inspector listen), whatever an environment lists, by any name or address; and a name
// an environment allows never leads into a private or loopback range unless that address is listed too. Runs in
// a network and mount namespace of its own (support/netns-probe.ts), so the machine's own address and /etc/hosts
// are the test's, with real bubblewrap and the sandbox-runtime proxy.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Networking } from '../../sandbox/hands.ts';
import type { ProbePlan, ProbeReport } from './support/netns-probe.ts';

const SELF = '198.51.100.7'; // outside every range the policy calls non-public: only "this machine" refuses it
const HOSTS = { 'self.test': SELF, 'loop.test': '127.0.0.1', 'loop5.test': '127.0.0.5', 'private.test': '10.11.12.13' };
const limited = (allowed_hosts: string[]): Networking => ({ type: 'limited', allowed_hosts, allow_package_managers: false, allow_mcp_servers: false });
const unrestricted: Networking = { type: 'unrestricted' };
// no_proxy (which lists loopback and private ranges) is unset, as a hostile agent would, so every request meets the proxy
const curl = (url: string, flags = ''): string => `unset no_proxy NO_PROXY; curl -sS -m 5 ${flags} ${url}`;

/** An environment stored before the API refused such rules: everything that names the machine itself. */
const listingItself = limited(['localhost', '127.0.0.1', '::1', '0.0.0.0', SELF, 'self.test', 'loop.test']);

const attempts: ProbePlan['attempts'] = [
  { name: 'localhost', networking: listingItself, command: curl('http://localhost:{lo1}/') },
  { name: '127.0.0.1', networking: listingItself, command: curl('http://127.0.0.1:{lo1}/') },
  { name: '127.1', networking: listingItself, command: curl('http://127.1:{lo1}/') },
  { name: '::1', networking: listingItself, command: curl('http://[::1]:{any}/') },
  { name: '0.0.0.0', networking: listingItself, command: curl('http://0.0.0.0:{any}/') },
  { name: 'own address', networking: listingItself, command: curl(`http://${SELF}:{any}/`) },
  { name: 'own address, tunnelled', networking: listingItself, command: curl(`http://${SELF}:{any}/`, '-p') },
  { name: 'own name', networking: listingItself, command: curl('http://self.test:{any}/') },
  { name: 'a name for loopback', networking: listingItself, command: curl('http://loop.test:{lo1}/') },
  { name: 'no_proxy kept', networking: listingItself, command: 'curl -sS -m 5 http://127.0.0.1:{lo1}/' },
  { name: 'unrestricted, own address', networking: unrestricted, command: curl(`http://${SELF}:{any}/`) },
  { name: 'unrestricted, own address, tunnelled', networking: unrestricted, command: curl(`http://${SELF}:{any}/`, '-p') },
  { name: 'unrestricted, own name', networking: unrestricted, command: curl('http://self.test:{any}/') },
  { name: 'limited name to a private address', networking: limited(['private.test']), command: curl('http://private.test/') },
  { name: 'limited name to 127.0.0.5', networking: limited(['loop5.test']), command: curl('http://loop5.test:{lo5}/') },
  { name: 'limited name to 127.0.0.5, listed', networking: limited(['loop5.test', '127.0.0.5']), command: curl('http://loop5.test:{lo5}/') },
  { name: 'limited 127.0.0.5 literal', networking: limited(['127.0.0.5']), command: curl('http://127.0.0.5:{lo5}/') },
  { name: 'limited 127.0.0.5, unlisted', networking: limited(['127.0.0.6']), command: curl('http://127.0.0.5:{lo5}/') },
];

function runProbe(plan: ProbePlan): Promise<ProbeReport> {
  const probe = path.join(import.meta.dirname, 'support', 'netns-probe.ts');
  return new Promise((resolve, reject) => {
    execFile('unshare', ['--net', '--mount', '--', process.execPath, probe, JSON.stringify(plan)], { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`the probe failed (${error.code ?? error.signal ?? 'error'}):\n${stderr}`));
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(line) as ProbeReport);
      } catch {
        reject(new Error(`the probe printed no report:\n${stdout}\n${stderr}`));
      }
    });
  });
}

// a network namespace of its own needs root (CI runs as root)
describe.skipIf(process.getuid?.() !== 0)('egress from a sandbox to the machine it runs on', () => {
  let report: ProbeReport;
  beforeAll(async () => {
    report = await runProbe({ selfAddress: SELF, hosts: HOSTS, attempts });
  }, 240_000);

  const refusedAsThisMachine = [
    'localhost', '127.0.0.1', '127.1', '::1', '0.0.0.0', 'own address', 'own address, tunnelled',
    'unrestricted, own address', 'unrestricted, own address, tunnelled',
  ];

  it.each(refusedAsThisMachine)('refuses %s, even when the environment lists it, saying why', (name) => {
    // curl exits 0 on the proxy's 403 (no -f), so the refusal shows in the text: the proxy's and the host's note
    const result = report.results[name];
    expect(result?.text, name).not.toContain('hello from the machine itself');
    expect(result?.text, name).toMatch(/Connection blocked by network allowlist|CONNECT tunnel failed, response 403/);
    expect(result?.text, name).toContain('the machine the runtime itself runs on');
  });

  it.each(['own name', 'a name for loopback', 'unrestricted, own name'])('refuses a name that resolves to the machine itself (%s)', (name) => {
    const result = report.results[name];
    expect(result?.text, name).not.toContain('hello from the machine itself');
    expect(result?.text, name).toMatch(/blocked: resolved to (a loopback address|one of this host's addresses)/);
  });

  it('a request that keeps no_proxy goes nowhere: the sandbox has no network of its own', () => {
    expect(report.results['no_proxy kept']?.text).toContain("Couldn't connect to server");
  });

  it('a service on the machine saw none of those requests', () => {
    expect(report.hits.any).toEqual([]);
    expect(report.hits.lo1).toEqual([]);
  });

  it('refuses a limited name that resolves into a private range or to loopback, unless that address is listed', () => {
    expect(report.results['limited name to a private address']?.text).toContain('Connection to private.test blocked: resolved to a listed address');
    expect(report.results['limited name to 127.0.0.5']?.text).toContain('Connection to loop5.test blocked: resolved to a loopback address');
    // the same names reach their address once it is itself listed, and a listed literal is reached directly
    expect(report.results['limited name to 127.0.0.5, listed']).toEqual({ text: 'hello from the machine itself', isError: false });
    expect(report.results['limited 127.0.0.5 literal']).toEqual({ text: 'hello from the machine itself', isError: false });
    expect(report.results['limited 127.0.0.5, unlisted']?.text).toContain('127.0.0.5 is not in allowed_hosts (127.0.0.6)');
    expect(report.hits.lo5).toHaveLength(2);
  });
});

// a network namespace of its own needs root (CI runs as root)
describe.skipIf(process.getuid?.() !== 0)('egress through the host\'s forward proxy (HTTP_PROXY)', () => {
  let report: ProbeReport;
  beforeAll(async () => {
    report = await runProbe({
      selfAddress: SELF,
      hosts: HOSTS,
      forwardProxy: true,
      attempts: [
        { name: 'a public name', networking: unrestricted, command: curl('http://public.example/path') },
        { name: 'a name for loopback', networking: unrestricted, command: curl('http://loop.test:{lo1}/') },
        { name: 'a name for the own address', networking: unrestricted, command: curl('http://self.test:{any}/') },
        { name: 'a limited name for a private address', networking: limited(['private.test']), command: curl('http://private.test/') },
        { name: 'a limited name for 127.0.0.5, listed', networking: limited(['loop5.test', '127.0.0.5']), command: curl('http://loop5.test:{lo5}/') },
      ],
    });
  }, 240_000);

  it('lets a name this machine cannot resolve through to the forward proxy, which resolves it', () => {
    expect(report.results['a public name']?.text).toBe('the internet says hello to http://public.example/path');
  });

  it('refuses a name that resolves to the machine itself or into a private range, before the forward proxy sees it', () => {
    expect(report.results['a name for loopback']?.text).toContain('egress to loop.test refused: it resolved to the machine the runtime itself runs on');
    expect(report.results['a name for the own address']?.text).toContain('egress to self.test refused: it resolved to the machine the runtime itself runs on');
    expect(report.results['a limited name for a private address']?.text).toContain('egress to private.test refused: it resolved to an address in');
    expect(report.asked.filter((url) => /loop\.test|self\.test|private\.test/.test(url))).toEqual([]);
  });

  it('hands a listed address on, as the policy allows', () => {
    expect(report.results['a limited name for 127.0.0.5, listed']?.text).toContain('loop5.test');
    expect(report.asked.some((url) => url.includes('loop5.test'))).toBe(true);
  });
});
