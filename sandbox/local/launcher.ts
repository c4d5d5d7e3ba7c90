// Starts one session's sandbox and lives exactly as long as it: sandbox-runtime's proxy plus bubblewrap around
// the tool runner. Runs outside the sandbox as the host's child; the runner inherits its stdin/stdout, which
// are the host's channel to it. Usage: node launcher.ts '<LauncherOptions as JSON>', with the session's
// credentials as one JSON line on fd 4.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { Socket } from 'node:net';
import path from 'node:path';
import { SandboxManager } from '@anthropic-ai/sandbox-runtime';
import { CA_TRUST_ENV_NAMES, RESERVED_ENV_NAMES, type SandboxCredential } from '../credentials.ts';
import { startCredentialProxy, type CredentialProxy } from './credential-proxy.ts';
import { localEgressOptions, networkPolicy, sandboxConfig } from './isolation.ts';
import { MitmAuthority, upstreamRoots } from './mitm-authority.ts';
import type { LauncherNotice, LauncherOptions, LauncherSecrets } from './runner-protocol.ts';
import { parentProxyFromEnv, UpstreamDialer } from './upstream-dialer.ts';
import { giveToSandboxUser, prepareUserSwitch } from './user-switch.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as LauncherOptions;
// sandbox-runtime puts its sockets and mount points in os.tmpdir(), which reads TMPDIR
process.env.TMPDIR = options.scratch;
// fd 3 is ours alone: the sandboxed child gets only 0–2
const notices: WriteStream | undefined = (() => {
  try {
    return createWriteStream('', { fd: 3 });
  } catch {
    return undefined;
  }
})();
notices?.on('error', () => {});
const notify = (notice: LauncherNotice): void => { notices?.write(`${JSON.stringify(notice)}\n`); };

/**
 * The session's credentials, from fd 4: the host writes one JSON line and closes its end. Read to the end and
 * closed before anything is spawned, so no child (the sandbox least of all) inherits the fd.
 */
async function receiveCredentials(): Promise<SandboxCredential[]> {
  let pipe: Socket;
  try {
    pipe = new Socket({ fd: 4, readable: true, writable: false });
  } catch (error) {
    throw new Error(`the host did not open the credentials pipe on fd 4 (${error instanceof Error ? error.message : String(error)})`);
  }
  const chunks: Buffer[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      pipe.on('data', (chunk: Buffer) => chunks.push(chunk));
      pipe.once('end', resolve);
      pipe.once('error', reject);
    });
  } finally {
    pipe.destroy();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    // never quote the text: it holds the values
    throw new Error('the credentials on fd 4 are not JSON');
  }
  if (!Array.isArray(parsed) || !parsed.every(isCredential)) throw new Error('the credentials on fd 4 are not a list of credentials');
  return parsed satisfies LauncherSecrets;
}

function isCredential(value: unknown): value is SandboxCredential {
  const c = value as Partial<SandboxCredential> | null;
  return typeof c === 'object' && c !== null && typeof c.name === 'string' && typeof c.placeholder === 'string'
    && typeof c.value === 'string' && typeof c.credentialId === 'string' && typeof c.networking === 'object'
    && typeof c.injection === 'object' && c.injection !== null;
}

async function main(): Promise<number> {
  const credentials = await receiveCredentials();
  const deps = SandboxManager.checkDependencies();
  if (deps.errors.length > 0) {
    throw new Error(`${deps.errors.join('; ')} (on Debian/Ubuntu: scripts/install-system-deps.sh)`);
  }
  // The launcher stays root when the host is: it runs sandbox-runtime's proxy, which holds the credentials, and
  // bwrap must be started by root to mount what the sandbox sees (bwrap-drop.ts says why). Only the sandboxed
  // command runs as the sandbox user.
  const vault = credentials.length > 0 ? await startVaultProxy(credentials) : undefined;
  const config = { ...sandboxConfig(options, options.networking, vault?.socketPath), ...prepareUserSwitch(options.user, options.scratch, options.nodeBinary, options.workspace) };
  await SandboxManager.initialize(config, networkPolicy(options.networking));

  let seen = 0;
  SandboxManager.getSandboxViolationStore().subscribe((violations) => {
    const total = SandboxManager.getSandboxViolationStore().getTotalCount();
    const fresh = violations.slice(Math.max(0, violations.length - (total - seen)));
    seen = total;
    for (const v of fresh) notify({ type: 'violation', line: v.line });
  });

  // The proxy's Unix sockets live in the host's /tmp, which the sandbox sees as an empty tmpfs: bind them back.
  const sockets = [SandboxManager.getLinuxHttpSocketPath(), SandboxManager.getLinuxSocksSocketPath()]
    .filter((s): s is string => typeof s === 'string');
  giveToSandboxUser(sockets, options.user);
  // likewise the bundle of certificate authorities the sandbox trusts when its credential proxy terminates TLS
  const filesystem = { ...config.filesystem, allowRead: [...(config.filesystem.allowRead ?? []), ...sockets, ...(vault ? [vault.trustBundle] : [])] };
  const command = [options.nodeBinary, options.toolRunner, '--workdir', options.workspace, '--max-chars', String(options.maxResultChars)]
    .map(shellQuote).join(' ');
  // an unguessable id: it is what the proxy username carries, instead of the command text
  const commandId = randomBytes(16).toString('base64url');
  const wrapped = await SandboxManager.wrapWithSandbox(command, undefined, { filesystem }, undefined, { commandId });

  // sandbox-runtime's own variables (the proxy ones) are bwrap --setenv flags in `wrapped`, so they apply over
  // this environment
  const child = spawn(wrapped, { shell: '/bin/bash', stdio: 'inherit', cwd: options.workspace, env: runnerEnv(credentials, vault?.trustBundle) });
  const stop = (): void => { child.kill('SIGKILL'); }; // bwrap's --die-with-parent takes the whole sandbox with it
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const code = await new Promise<number>((resolve) => {
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
    child.once('error', () => resolve(1));
  });
  SandboxManager.cleanupAfterCommand();
  await SandboxManager.reset();
  await vault?.close();
  rmSync(options.scratch, { recursive: true, force: true });
  return code;
}

/**
 * For a session with credentials: the proxy sandbox-runtime hands every connection to (credential-proxy.ts), on a
 * Unix socket in the scratch dir, with a certificate authority made for this sandbox. Its key stays in this
 * process; the certificate the sandbox trusts is a world-readable file beside it, which the sandbox user can read
 * once it is bound in.
 */
async function startVaultProxy(credentials: readonly SandboxCredential[]): Promise<CredentialProxy & { socketPath: string; trustBundle: string }> {
  const authority = new MitmAuthority();
  const trustBundle = path.join(options.scratch, 'ca-bundle.pem');
  writeFileSync(trustBundle, authority.trustBundle(), { mode: 0o644 });
  const socketPath = path.join(options.scratch, 'credential-proxy.sock');
  const dialer = new UpstreamDialer({
    networking: options.networking,
    egressOptions: localEgressOptions,
    ca: upstreamRoots(),
    parent: parentProxyFromEnv(process.env),
  });
  const proxy = await startCredentialProxy({ socketPath, credentials, authority, dialer, onRefusal: (line) => notify({ type: 'violation', line }) });
  return { ...proxy, socketPath, trustBundle };
}

/**
 * The runner's whole environment, built rather than inherited: nothing of the host's (API keys, the sandbox
 * secret, tokens) crosses. Each credential's variable holds its placeholder, never its value; with credentials,
 * the usual trust variables name the bundle that holds the credential proxy's authority. sandbox-runtime adds its
 * proxy variables on top.
 */
function runnerEnv(credentials: readonly SandboxCredential[], trustBundle: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // refused when the credential is created; skipped here too, so a stray one cannot break the sandbox's PATH
  // or its proxy settings
  for (const c of credentials) if (!RESERVED_ENV_NAMES.has(c.name)) env[c.name] = c.placeholder;
  if (trustBundle) for (const name of CA_TRUST_ENV_NAMES) env[name] = trustBundle;
  return {
    ...env,
    PATH: [path.dirname(options.nodeBinary), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    HOME: options.workspace,
    // sandbox-runtime makes $HOME/.gitconfig unreadable (a dangerous file), and git refuses to run at all when it
    // cannot read its global file; git reads this one instead (git config --global writes it)
    GIT_CONFIG_GLOBAL: path.join(options.workspace, '.config', 'git', 'config'),
    LANG: 'C.UTF-8',
    TERM: 'dumb',
  };
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    notify({ type: 'failed', message });
    process.stderr.write(`sandbox launcher: ${message}\n`);
    // let the notice reach the host before the pipe closes
    notices?.end(() => process.exit(70));
    if (!notices) process.exit(70);
  },
);
