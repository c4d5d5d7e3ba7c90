// One fixture for the tests of the file or describe block that asks for it: started in beforeAll, stopped in
// afterAll, and read through a stand-in that forwards to it, so tests write `bench.client`, not `bench().client`.
import { afterAll, beforeAll } from 'vitest';

/** The stand-in throws when read before beforeAll has started the fixture (at collection time, say). */
export function suiteFixture<T extends object>(start: () => Promise<T>, stop: (fixture: T) => Promise<void> | void): T {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  });
  afterAll(async () => {
    if (started) await stop(started);
  });
  const current = (): T => {
    if (!started) throw new Error('the fixture starts in beforeAll: read it inside a test or hook');
    return started;
  };
  return new Proxy({} as T, { get: (_target, key) => Reflect.get(current(), key) });
}
