// End to end: a skill uploaded through the Skills API and given to an agent is listed in its session's system
// prompt, and its files are in the sandbox at the path the prompt names, /mnt/skills/<name>/, read-only, when the
// agent's first tool call runs.
import { describe, expect, it } from 'vitest';
import { bashTurn, startScriptedRuntime, toolResultText } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

const SKILL_MD = '---\nname: greeter\ndescription: Greets people by name. Use when asked to say hello.\n---\n\n# Greeter\n\nRun scripts/hello.sh NAME.\n';
const HELLO_SH = '#!/bin/sh\necho "hello, $1"\n';

describe('session skills', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('session-skills', { apiKey: 'session-skills-key' }), (run) => run.stop());

  it("lists the agent's skill in the system prompt and puts its files read-only at /mnt/skills/<name>/", async () => {
    const skill = await e2e.client.beta.skills.create({
      files: [new File([SKILL_MD], 'greeter/SKILL.md', { type: 'text/markdown' }), new File([HELLO_SH], 'greeter/scripts/hello.sh', { type: 'text/x-sh' })],
    });
    const environment = await e2e.client.beta.environments.create({ name: 'skills' });
    const agent = await e2e.client.beta.agents.create({
      name: 'greeter',
      model: 'claude-sonnet-5-5',
      tools: [{ type: 'agent_toolset_20260401' }],
      skills: [{ type: 'custom', skill_id: skill.id }],
    });
    const session = await e2e.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });

    const read = await bashTurn(e2e.client, session.id, 'cat /mnt/skills/greeter/SKILL.md && sh /mnt/skills/greeter/scripts/hello.sh world');
    expect(read.filter((e) => e.type === 'session.error')).toEqual([]);
    expect(toolResultText(read)).toEqual({ text: expect.stringContaining('Run scripts/hello.sh NAME.'), isError: false });
    expect(toolResultText(read).text).toContain('hello, world');
    const system = JSON.stringify((e2e.model.model.requests.at(-1)!.body as { system?: unknown }).system);
    expect(system).toContain('- greeter: Greets people by name. Use when asked to say hello. (/mnt/skills/greeter/SKILL.md)');
    expect(system).not.toContain('Run scripts/hello.sh NAME.');

    const write = toolResultText(await bashTurn(e2e.client, session.id, 'echo x > /mnt/skills/greeter/SKILL.md; touch /mnt/skills/greeter/new; cat /mnt/skills/greeter/scripts/hello.sh'));
    expect(write.text.match(/Permission denied/g)).toHaveLength(2);
    expect(write.text).toContain('echo "hello, $1"');
  });
});
