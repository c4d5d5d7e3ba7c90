// End to end: a session's github_repository resources cloned when its sandbox is provisioned (on the first tool
// call), from a git server on 127.0.0.1 that wants the token; the agent's git log shows the pinned commit, a
// repository that cannot be cloned is a session.error of the SDK's type, and the token is in no event, no model
// request and no file of the runtime's state.
import type Anthropic from '@anthropic-ai/sdk';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitServer, type GitServer } from '../support/git-server.ts';
import { startScriptedRuntime, turn as sendAndWait } from '../support/scripted-runtime.ts';
import { expectSecretNowhere } from '../support/secret-canary.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

type Event = Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent;

// Unique per run, so a hit can only come from this test.
const TOKEN = `ghp_canary_${crypto.randomUUID().replace(/-/g, '')}`;

describe('session repositories', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('repositories', { apiKey: 'repositories-key' }), (run) => run.stop());
  let git: GitServer;

  beforeAll(async () => {
    git = await startGitServer(TOKEN);
  });
  afterAll(async () => {
    await git?.close();
  });

  const turn = (id: string, text: string) => sendAndWait(e2e.client, id, text);

  it('clones at the pinned commit before the first tool call, reports the ones it cannot clone, and keeps the token out of everything', async () => {
    const environment = await e2e.client.beta.environments.create({ name: 'repositories' });
    const agent = await e2e.client.beta.agents.create({ name: 'git user', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const session = await e2e.client.beta.sessions.create({
      agent: agent.id,
      environment_id: environment.id,
      resources: [
        { type: 'github_repository', url: git.url, authorization_token: TOKEN, checkout: { type: 'commit', sha: git.commits.first }, mount_path: '/src/hello' },
        { type: 'github_repository', url: git.url, authorization_token: 'ghp_not_the_token', mount_path: '/src/refused' },
        { type: 'github_repository', url: `${git.base}/missing.git`, authorization_token: TOKEN },
      ],
    });
    expect(JSON.stringify(session)).not.toContain(TOKEN);
    expect(session.resources.map((r) => r.type === 'github_repository' && r.mount_path)).toEqual(['/src/hello', '/src/refused', '/workspace/missing']);

    // lazy: nothing is cloned (no sandbox exists) until the first tool call
    expect(existsSync(path.join(e2e.stateDir, 'sandboxes', session.id))).toBe(false);
    // env and the clone's config are printed too, so the checks of the events below cover them
    const command = 'cd src/hello && git log --format=%H -1 && git config --get remote.origin.url && cat .git/config && env; ls ../';
    const events = await turn(session.id, `[[tool:bash ${JSON.stringify({ command })}]]`);
    const result = events.find((e): e is Extract<Event, { type: 'agent.tool_result' }> => e.type === 'agent.tool_result');
    const text = (result?.content ?? []).map((b) => ('text' in b ? b.text : '')).join('');
    expect(result?.is_error, text).toBe(false);
    expect(text).toContain(git.commits.first);
    expect(text).toContain(git.url);
    expect(text).not.toContain('refused');

    const errors = events.flatMap((e) => (e.type === 'session.error' ? [e.error] : []));
    expect(errors).toEqual([
      expect.objectContaining({ type: 'repository_authentication_error', repository_url: git.url, retry_status: { type: 'retrying' } }),
      expect.objectContaining({ type: 'repository_not_found_error', repository_url: `${git.base}/missing.git`, retry_status: { type: 'retrying' } }),
    ]);

    // a second call clones nothing again and reports nothing again
    // and git works in the sandbox with a global config of its own (sandbox-runtime hides $HOME/.gitconfig)
    const again = await turn(session.id, `[[tool:bash ${JSON.stringify({ command: 'git config --global user.email agent@example.com && git config --global --get user.email' })}]]`);
    expect(again.filter((e) => e.type === 'session.error')).toEqual([]);
    expect(JSON.stringify(again.filter((e) => e.type === 'agent.tool_result'))).toContain('agent@example.com');

    // the canary: nowhere the agent or the model can look, nowhere at rest
    await expectSecretNowhere(e2e, session.id, TOKEN, [Buffer.from(`x-access-token:${TOKEN}`).toString('base64')]);
  });

  it('clones with the token as rotated before the first tool call', async () => {
    const environment = await e2e.client.beta.environments.create({ name: 'rotation' });
    const agent = await e2e.client.beta.agents.create({ name: 'git user', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const session = await e2e.client.beta.sessions.create({
      agent: agent.id,
      environment_id: environment.id,
      resources: [{ type: 'github_repository', url: git.url, authorization_token: 'ghp_expired_token', checkout: { type: 'branch', name: 'feature' } }],
    });
    // The same set-up as the first case, deliberately: each case creates its own session from scratch.
    const [repository] = session.resources;
    if (repository?.type !== 'github_repository') throw new Error('expected the repository resource');
    const rotated = await e2e.client.beta.sessions.resources.update(repository.id, { session_id: session.id, authorization_token: TOKEN });
    expect(JSON.stringify(rotated)).not.toContain(TOKEN);
    const events = await turn(session.id, `[[tool:bash ${JSON.stringify({ command: 'git -C workspace/hello rev-parse HEAD' })}]]`);
    expect(events.filter((e) => e.type === 'session.error')).toEqual([]);
    expect(JSON.stringify(events.filter((e) => e.type === 'agent.tool_result'))).toContain(git.commits.feature);
  });
});
