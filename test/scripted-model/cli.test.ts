// `node scripted-model/main.ts` announces its URL in the line scripts/runtime.ts waits for,
// serves requests, and exits cleanly on SIGTERM; its request log and script routes exist only on request.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../../scripted-model/main.ts", import.meta.url));
// The project's Node 22 strips TypeScript types; the system node may be older.
const PROJECT_NODE = fileURLToPath(new URL("../../node_modules/.bin/node", import.meta.url));
const NODE = existsSync(PROJECT_NODE) ? PROJECT_NODE : process.execPath;

describe("scripted-model CLI", () => {
  it("announces its URL, answers there, and exits 0 on SIGTERM", async () => {
    const child = spawn(NODE, [MAIN, "--port", "0", "--host", "127.0.0.1"], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const lines = createInterface({ input: child.stdout });
      const first = await new Promise<string>((resolve) => lines.once("line", resolve));
      const match = /^scripted-model listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(first);
      expect(match).not.toBeNull();
      const response = await fetch(`${match?.[1]}/healthz`);
      expect(response.status).toBe(200);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("serves /_scripted/* only with --control-routes: the request log holds every session's prompts", async () => {
    const statusOf = async (args: string[]): Promise<number> => {
      const child = spawn(NODE, [MAIN, "--port", "0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
      try {
        const first = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once("line", resolve));
        const url = /listening on (\S+)$/.exec(first)?.[1];
        return (await fetch(`${url}/_scripted/requests`)).status;
      } finally {
        child.kill("SIGKILL");
      }
    };
    expect(await statusOf([])).toBe(404);
    expect(await statusOf(["--control-routes"])).toBe(200);
  });
});
