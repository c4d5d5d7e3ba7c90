// Cloning one github_repository session resource with git, for both providers (the local host, and root inside a
// Cloudflare container): the token reaches git only as an `http.extraHeader` in the environment of the git processes
// started here (GIT_CONFIG_*), which git never writes anywhere: not in argv (which any process may read), not in the
// clone's .git/config (the remote is the URL as given, which carries no credentials). git's refusals become the
// SDK's repository error types.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RepositoryError, SandboxRepository } from './hands.ts';

/** A clone that takes longer than this is given up (repository_clone_error). */
const CLONE_TIMEOUT_MS = 10 * 60_000;

export type FailRepository = (type: RepositoryError['type'], message: string) => RepositoryError;

/** The error for `repo`, its message redacted of the token. */
export function repositoryFailure(repo: SandboxRepository): FailRepository {
  return (type, message) => ({ type, message: redact(message, repo.token), repository_url: repo.url });
}

/**
 * Clones `repo` into `target` (which must not exist; its parent must) and checks out the requested branch or commit.
 * On failure `target` is removed and the error answered. `extraConfig` adds git configuration for these processes
 * only (the Cloudflare provider's clone marker for its egress handler).
 */
export async function cloneRepository(
  target: string,
  repo: SandboxRepository,
  extraConfig: Array<[string, string]> = [],
): Promise<RepositoryError | null> {
  const fail = repositoryFailure(repo);
  const home = mkdtempSync(path.join(tmpdir(), 'edgeharness-git-'));
  try {
    const env = gitEnv(home, repo.token, extraConfig);
    const branch = repo.checkout?.type === 'branch' ? ['--branch', repo.checkout.name] : [];
    const clone = await git(['clone', '--quiet', ...branch, '--', repo.url, target], env);
    if (clone.code !== 0) {
      rmSync(target, { recursive: true, force: true });
      return classify(clone.stderr, repo, fail);
    }
    if (repo.checkout?.type === 'commit') {
      const checkout = await git(['-C', target, 'checkout', '--quiet', '--detach', repo.checkout.sha], env);
      if (checkout.code !== 0) {
        rmSync(target, { recursive: true, force: true });
        return fail('repository_checkout_error', `commit ${repo.checkout.sha} is not in ${repo.url}: ${firstLine(checkout.stderr)}`);
      }
    }
    return null;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * git's environment: nobody's configuration but these lines (no system or global file, no credential helper, no
 * prompt), only http(s), no redirects (a redirect would carry the header to wherever it points), and the token as
 * a Basic header in GIT_CONFIG_* (GitHub's form for a token: user x-access-token).
 */
function gitEnv(home: string, token: string | null, extraConfig: Array<[string, string]>): NodeJS.ProcessEnv {
  const config: Array<[string, string]> = [
    ['credential.helper', ''],
    ['protocol.allow', 'never'],
    ['protocol.https.allow', 'always'],
    ['protocol.http.allow', 'always'],
    ['http.followRedirects', 'false'],
    ['advice.detachedHead', 'false'],
  ];
  if (token !== null) config.push(['http.extraHeader', `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`]);
  config.push(...extraConfig);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'false',
    GIT_CONFIG_COUNT: String(config.length),
  };
  // the container's CA for intercepted HTTPS (the system store of the image) is found by git itself; nothing else of
  // the caller's environment is passed on
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

function git(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('git', args, { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: CLONE_TIMEOUT_MS });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 16_384) stderr += d;
    });
    child.on('error', (err) => resolve({ code: -1, stderr: err.message }));
    child.on('close', (code, signal) => resolve({ code: code ?? -1, stderr: signal ? `${stderr}\ngit stopped by ${signal} (timeout ${CLONE_TIMEOUT_MS} ms)` : stderr }));
  });
}

/** git's refusal, as the SDK's repository error types. */
function classify(stderr: string, repo: SandboxRepository, fail: FailRepository): RepositoryError {
  const said = firstLine(stderr);
  if (repo.checkout?.type === 'branch' && /Remote branch .* not found/i.test(stderr))
    return fail('repository_checkout_error', `branch ${repo.checkout.name} is not in ${repo.url}`);
  if (/returned error: 401|Authentication failed|could not read (Username|Password)|terminal prompts disabled/i.test(stderr))
    return fail('repository_authentication_error', `${repo.url} refused the ${repo.token === null ? 'request without a token' : 'authorization_token'}: ${said}`);
  if (/returned error: 403/i.test(stderr)) return fail('repository_forbidden_error', `${repo.url} refused access: ${said}`);
  if (/returned error: 404|repository .* not found|does not appear to be a git repository/i.test(stderr))
    return fail('repository_not_found_error', `${repo.url} was not found: ${said}`);
  return fail('repository_clone_error', `${repo.url} could not be cloned: ${said}`);
}

function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l.startsWith('fatal:') || l.startsWith('error:')) ?? text.trim().split('\n')[0] ?? '';
}

/** git does not print extra headers; a message still never carries the token, however it came to hold it. */
function redact(text: string, token: string | null): string {
  if (!token) return text;
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
  return text.split(token).join('[redacted]').split(basic).join('[redacted]');
}
