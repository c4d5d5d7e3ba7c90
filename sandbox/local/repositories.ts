// Cloning a session's github_repository resources into its workspace, by the host, outside the sandbox, before the
// session's first tool call. The token reaches git only as an `http.extraHeader` in the environment of the git
// processes the host starts (GIT_CONFIG_*), which git never writes anywhere: not in argv (which any process may
// read), not in the repository's .git/config (the remote is the URL as given, which carries no credentials), not in
// the sandbox, which does not exist yet while the clone runs and is never given it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RepositoryError, SandboxRepository } from '../hands.ts';

/** A clone that takes longer than this is given up (repository_clone_error). */
const CLONE_TIMEOUT_MS = 10 * 60_000;

/** Each session's repositories are cloned once; what happened is kept here (ids and outcomes only, never a token). */
const RECORD = 'repositories.json';

type Record_ = Record<string, 'cloned' | 'failed'>;

/**
 * Clones every repository not yet tried into `<workspace><mountPath>` and answers the errors of this attempt and
 * the top-level workspace entries it cloned into (for the host to hand over to the sandbox's user).
 * A repository tried before (cloned or failed) is not tried again: the session goes on without a failed one, as
 * the SDK says. `sessionDir` keeps the record; concurrent calls for one session must be serialised by the caller.
 */
export async function cloneRepositories(
  sessionDir: string,
  workspace: string,
  repositories: SandboxRepository[],
): Promise<{ errors: RepositoryError[]; cloned: string[] }> {
  const cloned = new Set<string>();
  if (repositories.length === 0) return { errors: [], cloned: [] };
  const recordFile = path.join(sessionDir, RECORD);
  const record: Record_ = existsSync(recordFile) ? (JSON.parse(readFileSync(recordFile, 'utf8')) as Record_) : {};
  const errors: RepositoryError[] = [];
  for (const repo of repositories) {
    if (record[repo.resourceId]) continue;
    const error = await cloneOne(workspace, repo);
    record[repo.resourceId] = error ? 'failed' : 'cloned';
    if (error) errors.push(error);
    else cloned.add(path.join(workspace, repo.mountPath.split('/').filter(Boolean)[0]!));
    mkdirSync(sessionDir, { recursive: true, mode: 0o700 });
    writeFileSync(recordFile, JSON.stringify(record), { mode: 0o600 });
  }
  return { errors, cloned: [...cloned] };
}

async function cloneOne(workspace: string, repo: SandboxRepository): Promise<RepositoryError | null> {
  const fail = (type: RepositoryError['type'], message: string): RepositoryError => ({
    type,
    message: redact(message, repo.token),
    repository_url: repo.url,
  });
  const segments = repo.mountPath.split('/').filter(Boolean);
  // validated by the API already; checked again because a path that leaves the workspace must never be written
  if (!repo.mountPath.startsWith('/') || segments.length === 0 || segments.some((s) => s === '.' || s === '..'))
    return fail('repository_clone_error', `mount path ${JSON.stringify(repo.mountPath)} is not an absolute normalised path`);
  const target = path.join(workspace, ...segments);
  if (existsSync(target)) return fail('repository_clone_error', `${repo.mountPath} already exists in the workspace`);
  mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  const home = mkdtempSync(path.join(tmpdir(), 'edgeharness-git-'));
  try {
    const env = gitEnv(home, repo.token);
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
function gitEnv(home: string, token: string | null): NodeJS.ProcessEnv {
  const config: Array<[string, string]> = [
    ['credential.helper', ''],
    ['protocol.allow', 'never'],
    ['protocol.https.allow', 'always'],
    ['protocol.http.allow', 'always'],
    ['http.followRedirects', 'false'],
    ['advice.detachedHead', 'false'],
  ];
  if (token !== null) config.push(['http.extraHeader', `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`]);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'false',
    GIT_CONFIG_COUNT: String(config.length),
  };
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
function classify(stderr: string, repo: SandboxRepository, fail: (type: RepositoryError['type'], message: string) => RepositoryError): RepositoryError {
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
