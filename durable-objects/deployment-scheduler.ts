// DeploymentScheduler: one Durable Object per scheduled deployment (named `<workspace id>/<deployment id>`), whose
// only state is its alarm. The workspace's store owns the schedule (resources/deployments/): it arms this alarm
// for the next fire plus the deployment's jitter whenever that changes (create, update, pause, unpause, archive,
// each fire). When the alarm goes off the store takes the fire that is due, at most one however late the alarm is
// (a runtime that was down runs once on return), starts its run, and answers when to go off next.
// A separate object per deployment keeps the workspace store's own alarm free and one deployment's fire from
// waiting on another's.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../worker/env.ts';
import { workspaceStore } from './stubs.ts';

interface Target {
  workspaceId: string;
  deploymentId: string;
}

export class DeploymentScheduler extends DurableObject<Env> {
  /** Sets (or, with null, clears) the alarm for `target`'s next fire. */
  async arm(target: Target, at: number | null): Promise<void> {
    await this.ctx.storage.put('target', target);
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  /** When the alarm is set to go off, or null (tests and docs/deployments.md's operator notes read it). */
  async alarmAt(): Promise<number | null> {
    return this.ctx.storage.getAlarm();
  }

  override async alarm(): Promise<void> {
    await this.fire(Date.now());
  }

  /**
   * Acts as the alarm does at `now`. The alarm's own entry, and the tests' controllable clock (called through
   * `runInDurableObject` with a chosen `now`).
   */
  async fire(now: number): Promise<void> {
    const target = await this.ctx.storage.get<Target>('target');
    if (!target) return;
    const next = await workspaceStore(this.env, target.workspaceId).fireDeploymentSchedule(target.deploymentId, now);
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }
}
