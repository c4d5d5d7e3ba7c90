// /v1/deployments: create, retrieve, update, list, archive, pause, unpause, run now, and the webhook trigger's
// regenerate_secret extension; /v1/deployment_runs: retrieve, list. The store (resources/deployments/) validates
// references and keeps the schedule; a run starts in durable-objects/deployment-runs.ts. A file rubric in the
// initial events is resolved to its text when the deployment is saved, as a session's are when sent.
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { checkFileSources, parseQuery, readJson, unwrap, workspace } from '../http.ts';
import { resolveRubrics } from '../outcome-rubrics.ts';
import {
  DeploymentCreateParams,
  DeploymentListQuery,
  DeploymentRunListQuery,
  DeploymentUpdateParams,
  type Deployment,
} from '../../../contract/deployment.ts';

/** Where a deployment's signed webhooks are posted: public (no API key), outside /v1 (worker/api/routes/deployment-hooks.ts). */
export function webhookUrl(c: Context<AppEnv>, deploymentId: string): string {
  return `${new URL(c.req.url).origin}/hooks/workspaces/${c.get('workspaceId')}/deployments/${deploymentId}`;
}

/** The deployment as answered: the webhook trigger's URL filled in, and its secret when just made. */
function shown(c: Context<AppEnv>, d: Deployment, secret: string | null = null): Deployment {
  if (!d.webhook_trigger) return d;
  const trigger = { ...d.webhook_trigger, url: webhookUrl(c, d.id), ...(secret ? { signing_secret: secret } : {}) };
  return { ...d, webhook_trigger: trigger };
}

export const deployments = new Hono<AppEnv>()
  .post('/', async (c) => {
    const body = await readJson(c, DeploymentCreateParams);
    await checkFileSources(c, body.initial_events, 'initial_events');
    const initial_events = await resolveRubrics(c, body.initial_events, 'initial_events');
    const { deployment, secret } = unwrap(await workspace(c).createDeployment({ ...body, initial_events }));
    return c.json(shown(c, deployment, secret));
  })
  .get('/', async (c) => {
    const page = unwrap(await workspace(c).listDeployments(parseQuery(c, DeploymentListQuery)));
    return c.json({ ...page, data: page.data.map((d) => shown(c, d)) });
  })
  .get('/:id', async (c) => c.json(shown(c, unwrap(await workspace(c).getDeployment(c.req.param('id'))))))
  .post('/:id', async (c) => {
    const body = await readJson(c, DeploymentUpdateParams);
    if (body.initial_events) {
      await checkFileSources(c, body.initial_events, 'initial_events');
      body.initial_events = await resolveRubrics(c, body.initial_events, 'initial_events');
    }
    const { deployment, secret } = unwrap(await workspace(c).updateDeployment(c.req.param('id'), body));
    return c.json(shown(c, deployment, secret));
  })
  .post('/:id/archive', async (c) => c.json(shown(c, unwrap(await workspace(c).archiveDeployment(c.req.param('id'))))))
  .post('/:id/pause', async (c) => c.json(shown(c, unwrap(await workspace(c).pauseDeployment(c.req.param('id'))))))
  .post('/:id/unpause', async (c) => c.json(shown(c, unwrap(await workspace(c).unpauseDeployment(c.req.param('id'))))))
  // Manual runs are permitted while paused (deployments.d.ts); a run whose session could not be made is still a
  // run, answered 200 with its `error`.
  .post('/:id/run', async (c) => c.json(unwrap(await workspace(c).runDeployment(c.req.param('id'), { type: 'manual' }))))
  // Extension: a new signing secret for the webhook trigger, shown in this answer only.
  .post('/:id/webhook_trigger/regenerate_secret', async (c) => {
    const { deployment, secret } = unwrap(await workspace(c).regenerateDeploymentSecret(c.req.param('id')));
    return c.json(shown(c, deployment, secret));
  });

export const deploymentRuns = new Hono<AppEnv>()
  .get('/', async (c) => c.json(unwrap(await workspace(c).listDeploymentRuns(parseQuery(c, DeploymentRunListQuery)))))
  .get('/:id', async (c) => c.json(unwrap(await workspace(c).getDeploymentRun(c.req.param('id')))));
