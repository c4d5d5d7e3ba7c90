// Cloning a session's github_repository resources into its workspace, by the host, outside the sandbox, before the
// session's first tool call, with the token in git's own environment only (../repository-clone.ts, shared with the
// Cloudflare provider): not in argv, not in the repository's .git/config, not in the sandbox, which does not exist yet
// while the clone runs and is never given it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RepositoryError, SandboxRepository } from '../hands.ts';
import { cloneRepository, repositoryFailure } from '../repository-clone.ts';

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
  const fail = repositoryFailure(repo);
  const segments = repo.mountPath.split('/').filter(Boolean);
  // validated by the API already; checked again because a path that leaves the workspace must never be written
  if (!repo.mountPath.startsWith('/') || segments.length === 0 || segments.some((s) => s === '.' || s === '..'))
    return fail('repository_clone_error', `mount path ${JSON.stringify(repo.mountPath)} is not an absolute normalised path`);
  const target = path.join(workspace, ...segments);
  if (existsSync(target)) return fail('repository_clone_error', `${repo.mountPath} already exists in the workspace`);
  mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  return cloneRepository(target, repo);
}
