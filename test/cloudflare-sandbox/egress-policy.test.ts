// The egress policy both providers apply, and the Worker-side handler that applies it to a container's requests.
import { describe, expect, it } from 'vitest';
import { EGRESS_REFUSED_HEADER, applyEgressPolicy } from '../../sandbox/cloudflare/outbound-handler.ts';
import { decideEgress, decideResolvedAddress, hostMatches, NON_PUBLIC_CIDRS, thisMachineRule } from '../../sandbox/egress-policy.ts';
import type { Networking } from '../../sandbox/hands.ts';

const unrestricted: Networking = { type: 'unrestricted' };
const limited = (allowed_hosts: string[], allow_package_managers = false): Networking => ({
  type: 'limited',
  allowed_hosts,
  allow_package_managers,
  allow_mcp_servers: false,
});

describe('decideEgress with unrestricted networking', () => {
  it.each([
    'https://api.anthropic.com/v1/messages',
    'http://example.com:8080/x',
    'http://93.184.216.34/',
    'http://172.32.0.1/', // just past 172.16.0.0/12
    'http://100.128.0.1/', // just past 100.64.0.0/10
    'http://[2606:4700:4700::1111]/',
    'http://[::ffff:8.8.8.8]/',
  ])('allows the public host of %s', (url) => {
    expect(decideEgress(unrestricted, url)).toEqual({ allow: true });
  });

  it.each([
    ['http://127.8.9.10/', 'loopback'],
    ['http://10.1.2.3/', 'private range 10.0.0.0/8'],
    ['http://172.16.0.1/', 'private range 172.16.0.0/12'],
    ['http://172.31.255.255/', 'private range 172.16.0.0/12'],
    ['http://192.168.1.1/', 'private range 192.168.0.0/16'],
    ['http://169.254.169.254/latest/meta-data', 'link-local'],
    ['http://100.64.0.1/', 'carrier-grade NAT'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://[fe80::1]/', 'link-local range fe80::/10'],
    ['http://[fc00::1]/', 'unique-local'],
    ['http://[fd12:3456::1]/', 'unique-local'],
    ['http://[::ffff:10.0.0.1]/', 'private range 10.0.0.0/8 (embedded'],
    ['http://[::ffff:127.0.0.2]/', 'loopback range 127.0.0.0/8 (embedded in an IPv6 address)'],
    ['http://0x7f.0.0.2/', 'loopback range 127.0.0.0/8'],
    ['http://[ff02::1]/', 'multicast'],
    ['http://[64:ff9b::a00:5]/', 'private range 10.0.0.0/8 (embedded in a NAT64 address)'],
    ['http://[64:ff9b::7f00:2]/', 'loopback range 127.0.0.0/8 (embedded in a NAT64 address)'],
    ['http://[2002:c0a8:101::1]/', 'private range 192.168.0.0/16 (embedded in a 6to4 address)'],
  ])('refuses %s (%s)', (url, range) => {
    const decision = decideEgress(unrestricted, url);
    expect(decision.allow).toBe(false);
    if (!decision.allow) {
      expect(decision.reason).toContain(range);
      expect(decision.reason).toContain('"unrestricted" allows public hosts only');
    }
  });

  it('refuses a URL it cannot parse', () => {
    const decision = decideEgress(unrestricted, 'not a url');
    expect(decision).toEqual({ allow: false, reason: 'egress refused: not a url is not a valid URL' });
  });
});

describe('decideEgress with limited networking', () => {
  const networking = limited(['api.example.com', '*.githubusercontent.com', '10.0.0.5', '127.0.0.2', '[fd00::5]', 'Upload.Example.org:8443']);

  it.each([
    'https://api.example.com/v1',
    'https://API.Example.COM./v1', // case and a trailing dot do not matter
    'http://api.example.com:8080/', // nor does the port
    'https://raw.githubusercontent.com/a/b',
    'https://a.b.githubusercontent.com/',
    'http://10.0.0.5/', // listed explicitly, so allowed although private
    'http://127.0.0.2:3000/', // a loopback address other than 127.0.0.1, listed as a literal
    'http://[fd00:0::5]/', // another spelling of a listed IPv6 literal
    'https://upload.example.org/',
  ])('allows the listed host of %s', (url) => {
    expect(decideEgress(networking, url)).toEqual({ allow: true });
  });

  it.each([
    'https://example.com/', // the parent of a listed host
    'https://evil-api.example.com/',
    'https://api.example.com.evil.net/',
    'https://githubusercontent.com/', // a wildcard does not match its own suffix
    'https://notgithubusercontent.com/',
    'http://10.0.0.6/',
    'http://127.0.0.3/',
  ])('refuses the unlisted host of %s, naming the host and the rule', (url) => {
    const decision = decideEgress(networking, url);
    expect(decision.allow).toBe(false);
    if (!decision.allow) {
      expect(decision.reason).toContain(`egress to ${new URL(url).hostname.replace(/^\[|\]$/g, '')} refused`);
      expect(decision.reason).toContain('"limited"');
      expect(decision.reason).toContain('api.example.com, *.githubusercontent.com');
    }
  });

  it('refuses everything when allowed_hosts is empty', () => {
    expect(decideEgress(limited([]), 'https://api.example.com/')).toEqual({
      allow: false,
      reason: 'egress to api.example.com refused: environment networking is "limited" and api.example.com is not in allowed_hosts (none)',
    });
  });

  it('opens the package registries only with allow_package_managers', () => {
    expect(decideEgress(limited([]), 'https://registry.npmjs.org/zod').allow).toBe(false);
    expect(decideEgress(limited([], true), 'https://registry.npmjs.org/zod').allow).toBe(true);
    expect(decideEgress(limited([], true), 'https://pypi.org/simple/').allow).toBe(true);
    expect(decideEgress(limited([], true), 'https://example.com/').allow).toBe(false);
    expect(decideEgress(limited([], true), 'https://mirror.internal/', { packageRegistryHosts: ['mirror.internal'] }).allow).toBe(true);
  });

  it('reads a rule written as a URL or host:port by its host only', () => {
    expect(hostMatches('api.example.com', 'https://api.example.com/v1')).toBe(true);
    expect(hostMatches('api.example.com', 'api.example.com:443')).toBe(true);
    expect(hostMatches('2001:db8::1', '2001:db8::1')).toBe(true);
    expect(hostMatches('api.example.com', '')).toBe(false);
  });
});

describe('the machine the runtime runs on', () => {
  const listingIt = limited(['localhost', '*.localhost', '127.0.0.1', '::1', '0.0.0.0', '::', '192.0.2.10', '[2001:db8::10]']);
  const self = { selfAddresses: ['192.0.2.10', '2001:db8::10', 'fe80::1%eth0'] };

  it.each([
    ['http://localhost:8787/', 'localhost'],
    ['http://LOCALHOST./', 'localhost'],
    ['http://localhost../', 'localhost'],
    ['http://api.localhost/', 'localhost'],
    ['http://127.0.0.1:9229/json', 'the loopback address 127.0.0.1'],
    ['http://127.1/', 'the loopback address 127.0.0.1'],
    ['http://2130706433/', 'the loopback address 127.0.0.1'], // 127.0.0.1 as one number
    ['http://0x7f.0.0.1/', 'the loopback address 127.0.0.1'],
    ['http://0177.0.0.1/', 'the loopback address 127.0.0.1'], // octal
    ['http://0.0.0.0:8787/', 'the unspecified address 0.0.0.0'],
    ['http://0/', 'the unspecified address 0.0.0.0'],
    ['http://[::1]:8787/', 'the loopback address ::1'],
    ['http://[0:0:0:0:0:0:0:1]/', 'the loopback address ::1'],
    ['http://[::]/', 'the unspecified address ::'],
    ['http://[::ffff:127.0.0.1]/', 'the loopback address 127.0.0.1'],
    ['http://[::ffff:7f00:1]/', 'the loopback address 127.0.0.1'],
    ['http://192.0.2.10:8787/', "this machine's own address 192.0.2.10"],
    ['http://[::ffff:192.0.2.10]/', "this machine's own address"],
    ['http://[2001:db8:0::10]/', "this machine's own address 2001:db8::10"],
    ['http://[fe80::1]/', "this machine's own address fe80::1"],
  ])('refuses %s whatever the networking lists (%s)', (url, what) => {
    for (const networking of [unrestricted, listingIt]) {
      const decision = decideEgress(networking, url, self);
      expect(decision.allow).toBe(false);
      if (!decision.allow) {
        expect(decision.reason).toContain(what);
        expect(decision.reason).toContain('the machine the runtime itself runs on');
        expect(decision.reason).toContain('127.0.0.2');
      }
    }
  });

  it('does not mistake names or other loopback addresses for the machine itself', () => {
    expect(decideEgress(limited(['localhost.example.com', '127.0.0.2', '0.example']), 'http://localhost.example.com/').allow).toBe(true);
    expect(decideEgress(limited(['127.0.0.2']), 'http://127.0.0.2/').allow).toBe(true);
    expect(decideEgress(limited(['0.example']), 'http://0.example/').allow).toBe(true);
    expect(decideEgress(unrestricted, 'http://93.184.216.34/', { selfAddresses: ['93.184.216.35'] })).toEqual({ allow: true });
    expect(decideEgress(unrestricted, 'http://93.184.216.35/', { selfAddresses: ['93.184.216.35'] }).allow).toBe(false);
  });

  it.each([
    ['localhost', true], ['LOCALHOST.', true], ['localhost..', true], ['localhost:3000', true], ['*.localhost', true], ['dev.localhost', true],
    ['127.0.0.1', true], ['127.1', true], ['127.0.0.1:8787', true], ['http://127.0.0.1:8787/x', true], ['0x7f000001', true],
    ['::1', true], ['[::1]', true], ['[::1]:3000', true], ['0:0:0:0:0:0:0:1', true], ['::ffff:127.0.0.1', true],
    ['0.0.0.0', true], ['::', true],
    ['127.0.0.2', false], ['localhost.example.com', false], ['*.example.com', false], ['10.0.0.5', false], ['api.example.com', false],
  ])('an allowed_hosts rule %s names the machine itself: %s', (rule, refused) => {
    expect(thisMachineRule(rule) !== undefined).toBe(refused);
  });
});

describe('the non-public ranges as CIDR text, for a proxy that takes a list', () => {
  it('holds every range the policy refuses, so a name cannot resolve where a literal may not go', () => {
    expect(NON_PUBLIC_CIDRS).toEqual([
      '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24',
      '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4', '::/128', '::1/128', 'fc00::/7', 'fe80::/10',
      'fec0::/10', 'ff00::/8',
    ]);
    for (const cidr of NON_PUBLIC_CIDRS) {
      const first = cidr.slice(0, cidr.indexOf('/'));
      expect(decideEgress(unrestricted, `http://${first.includes(':') ? `[${first}]` : first}/`).allow, cidr).toBe(false);
    }
  });
});

describe('decideResolvedAddress: what a name that was allowed may be dialed at', () => {
  const names = limited(['api.example.com', 'intranet.example', '10.0.0.5', '127.0.0.5', '[fd00::5]']);
  const self = { selfAddresses: ['203.0.113.7'] };

  it('allows a public address for either networking', () => {
    expect(decideResolvedAddress(unrestricted, 'api.example.com', '93.184.216.34')).toEqual({ allow: true });
    expect(decideResolvedAddress(names, 'api.example.com', '2606:4700::1111')).toEqual({ allow: true });
  });

  // A table parallel to the names' table above, deliberately: the same refusals reached through a resolved name.
  it.each([
    ['10.1.2.3', 'private range 10.0.0.0/8'],
    ['192.168.1.1', 'private range 192.168.0.0/16'],
    ['169.254.169.254', 'link-local'],
    ['127.0.0.2', 'loopback range'],
    ['fd12::1', 'unique-local'],
    ['::ffff:10.0.0.9', 'private range 10.0.0.0/8'],
  ])('refuses a name that resolved to %s (%s) unless that address is listed', (address, range) => {
    for (const networking of [unrestricted, names]) {
      const decision = decideResolvedAddress(networking, 'intranet.example', address);
      expect(decision.allow).toBe(false);
      if (!decision.allow) {
        expect(decision.reason).toContain(range);
        expect(decision.reason).not.toContain(address); // the class, never the address
      }
    }
  });

  it('allows a name onto a non-public address that is itself listed as a literal (limited only)', () => {
    expect(decideResolvedAddress(names, 'intranet.example', '10.0.0.5')).toEqual({ allow: true });
    expect(decideResolvedAddress(names, 'intranet.example', '127.0.0.5')).toEqual({ allow: true });
    expect(decideResolvedAddress(names, 'intranet.example', 'fd00:0:0::5')).toEqual({ allow: true });
    expect(decideResolvedAddress(unrestricted, 'intranet.example', '10.0.0.5').allow).toBe(false);
  });

  it('never allows a name onto the machine itself, listed or not', () => {
    const listing = limited(['evil.example', '127.0.0.1', '::1', '203.0.113.7']);
    for (const address of ['127.0.0.1', '::1', '0.0.0.0', '::', '::ffff:127.0.0.1', '203.0.113.7']) {
      const decision = decideResolvedAddress(listing, 'evil.example', address, self);
      expect(decision.allow, address).toBe(false);
      if (!decision.allow) expect(decision.reason, address).toContain('the machine the runtime itself runs on');
    }
  });

  it('refuses something that is not an address', () => {
    expect(decideResolvedAddress(unrestricted, 'x.example', 'not-an-ip').allow).toBe(false);
  });
});

describe('the outbound handler', () => {
  const forwarded: Request[] = [];
  const forward = async (request: Request): Promise<Response> => {
    forwarded.push(request);
    return new Response('upstream says hi', { status: 200 });
  };

  it('forwards an allowed request unchanged and returns the upstream response', async () => {
    const request = new Request('https://api.example.com/v1/things', { method: 'POST', body: 'payload' });
    const response = await applyEgressPolicy(request, { networking: limited(['api.example.com']) }, forward);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('upstream says hi');
    expect(forwarded.at(-1)).toBe(request);
  });

  it('refuses a request with 403 and a body naming the host and the rule', async () => {
    const before = forwarded.length;
    const response = await applyEgressPolicy(new Request('https://evil.example.net/steal'), { networking: limited(['api.example.com']) }, forward);
    expect(response.status).toBe(403);
    expect(response.headers.get(EGRESS_REFUSED_HEADER)).toBe('refused');
    expect(await response.text()).toBe(
      'edgeharness: egress to evil.example.net refused: environment networking is "limited" and evil.example.net is not in allowed_hosts (api.example.com)\n',
    );
    expect(forwarded.length).toBe(before);
  });

  it('refuses loopback under unrestricted networking', async () => {
    const response = await applyEgressPolicy(new Request('http://127.0.0.2:8787/v1/agents'), { networking: unrestricted }, forward);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('loopback range 127.0.0.0/8');
  });

  it('refuses the machine itself even when the environment lists it', async () => {
    const networking = limited(['localhost', '127.0.0.1', '[::1]']);
    for (const url of ['http://localhost:8787/v1/agents', 'http://127.0.0.1:8787/', 'http://[::1]:8787/']) {
      const response = await applyEgressPolicy(new Request(url), { networking }, forward);
      expect(response.status, url).toBe(403);
      expect(await response.text(), url).toContain('the machine the runtime itself runs on');
    }
  });

  it('refuses everything while the sandbox has no egress policy, or a malformed one', async () => {
    for (const params of [undefined, {}, { networking: { type: 'limited' } }, { networking: { type: 'open' } }]) {
      const response = await applyEgressPolicy(new Request('https://api.example.com/'), params, forward);
      expect(response.status).toBe(403);
    }
    const response = await applyEgressPolicy(new Request('https://api.example.com/'), undefined, forward);
    expect(await response.text()).toBe('edgeharness: egress to api.example.com refused: this sandbox has no egress policy yet\n');
  });
});

describe('the outbound handler during a repository clone', () => {
  const marker = 'a'.repeat(64);
  const repo = 'https://git.example.com/octo/hello';
  const grant = { networking: limited([]), clone: { marker, urls: [repo] } };
  const forwarded: Request[] = [];
  const forward = async (request: Request): Promise<Response> => {
    forwarded.push(request);
    return new Response('pack', { status: 200 });
  };
  const gitRequest = (url: string, headers: Record<string, string>, method = 'GET'): Request =>
    new Request(url, { method, headers: { authorization: 'Basic eC1hY2Nlc3MtdG9rZW46Z2hw', ...headers }, ...(method === 'POST' ? { body: '0000' } : {}) });

  it('lets root’s git fetch the repository being cloned whatever the networking, without the marker, its own header kept', async () => {
    for (const request of [
      gitRequest(`${repo}/info/refs?service=git-upload-pack`, { 'x-edgeharness-clone': marker }),
      gitRequest(`${repo}/git-upload-pack`, { 'x-edgeharness-clone': marker }, 'POST'),
    ]) {
      const response = await applyEgressPolicy(request, grant, forward);
      expect(response.status, request.url).toBe(200);
      const sent = forwarded.at(-1)!;
      expect(sent.url).toBe(request.url);
      expect(sent.headers.get('x-edgeharness-clone')).toBeNull();
      expect(sent.headers.get('authorization')).toBe('Basic eC1hY2Nlc3MtdG9rZW46Z2hw');
    }
  });

  it('refuses the same host to a request without the marker, a wrong marker, a push, another repository, or after the clone', async () => {
    const before = forwarded.length;
    const refused = [
      [gitRequest(`${repo}/info/refs?service=git-upload-pack`, {}), grant],
      [gitRequest(`${repo}/info/refs?service=git-upload-pack`, { 'x-edgeharness-clone': 'b'.repeat(64) }), grant],
      [gitRequest(`${repo}/info/refs?service=git-receive-pack`, { 'x-edgeharness-clone': marker }), grant],
      [gitRequest(`${repo}/git-receive-pack`, { 'x-edgeharness-clone': marker }, 'POST'), grant],
      [gitRequest('https://git.example.com/octo/other/info/refs?service=git-upload-pack', { 'x-edgeharness-clone': marker }), grant],
      [gitRequest(`${repo}/info/refs?service=git-upload-pack`, { 'x-edgeharness-clone': marker }), { networking: limited([]) }],
    ] as const;
    for (const [request, params] of refused) {
      const response = await applyEgressPolicy(request, params, forward);
      expect(response.status, `${request.method} ${request.url}`).toBe(403);
    }
    expect(forwarded.length).toBe(before);
  });
});
