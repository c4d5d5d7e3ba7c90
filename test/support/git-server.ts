// A git server for tests, on a loopback address (127.0.0.2 by default: the API takes http:// repository URLs only
// from 127.0.0.2 up): `git http-backend` behind a small Node HTTP server that wants the token as
// a Basic password (as GitHub does) and answers 401 without it. Serves one repository, `hello.git`, with two
// commits on `main` and a branch `feature`; `/forbidden.git` always answers 403. Never the internet.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SandboxRepository } from '../../sandbox/hands.ts';

export interface GitServer {
  /** The repository's URL: http://127.0.0.1:<port>/hello.git */
  url: string;
  base: string;
  /** main's first and second commit, and feature's one commit on top of the first. */
  commits: { first: string; second: string; feature: string };
  close(): Promise<void>;
}

const GIT_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com',
};

export async function startGitServer(token: string, host = '127.0.0.2'): Promise<GitServer> {
  const root = mkdtempSync(path.join(tmpdir(), 'eh-git-server-'));
  const work = path.join(root, 'work');
  mkdirSync(work);
  const g = (...args: string[]) => execFileSync('git', args, { cwd: work, env: GIT_ENV, encoding: 'utf8' }).trim();
  g('init', '--quiet', '--initial-branch=main');
  g('commit', '--quiet', '--allow-empty', '-m', 'first');
  const first = g('rev-parse', 'HEAD');
  g('checkout', '--quiet', '-b', 'feature');
  g('commit', '--quiet', '--allow-empty', '-m', 'feature');
  const feature = g('rev-parse', 'HEAD');
  g('checkout', '--quiet', 'main');
  g('commit', '--quiet', '--allow-empty', '-m', 'second');
  const second = g('rev-parse', 'HEAD');
  g('clone', '--quiet', '--bare', work, path.join(root, 'repos', 'hello.git'));

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://git');
    if (url.pathname.startsWith('/forbidden.git')) {
      res.writeHead(403).end('forbidden');
      return;
    }
    const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const password = auth ? Buffer.from(auth[1]!, 'base64').toString('utf8').split(':').slice(1).join(':') : null;
    if (password !== token) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end('unauthorized');
      return;
    }
    const cgi = spawn('git', ['http-backend'], {
      env: {
        ...GIT_ENV,
        GIT_PROJECT_ROOT: path.join(root, 'repos'),
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: 'x-access-token',
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on('data', (c: Buffer) => chunks.push(c));
    cgi.on('close', () => {
      const out = Buffer.concat(chunks);
      const end = out.indexOf('\r\n\r\n');
      const head = out.subarray(0, end).toString('utf8');
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n')) {
        const [name, ...rest] = line.split(':');
        const value = rest.join(':').trim();
        if (name!.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else if (name) headers[name] = value;
      }
      res.writeHead(status, headers).end(out.subarray(end + 4));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const base = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/hello.git`,
    base,
    commits: { first, second, feature },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A repository for the sandbox to clone from `server` with `token`, at `/workspace/hello` unless `over` says otherwise. */
export function repositoryFrom(server: GitServer, token: string, over: Partial<SandboxRepository> = {}): SandboxRepository {
  return {
    resourceId: `sesrsc_${Math.random().toString(36).slice(2)}`,
    url: server.url,
    checkout: null,
    mountPath: '/workspace/hello',
    token,
    ...over,
  };
}
