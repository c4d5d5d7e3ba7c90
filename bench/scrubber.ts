// Benchmark for the secret scrubber on its own (no network): how long the spellings of a credential set take to
// build (once per set: a session reuses them through `formsFor`), how long a cached lookup takes, and how fast a
// response streams through the scrubber, for secrets from an API token to the vault's largest value. Asserts nothing.
import { randomBytes } from 'node:crypto';
import { formsFor, SecretForms, SecretScrubber, type Secret } from '../sandbox/secret-scrubber.ts';

const STREAM_MB = Number(process.env.BENCH_SCRUBBER_MB ?? 8);
const CHUNK = 16 * 1024;

/** A service-account key file: JSON around a PEM private key, the size of a real one (~2.3 KB). */
function serviceAccountKey(): string {
  const pem = randomBytes(1_216).toString('base64').match(/.{1,64}/g)?.join('\\n') ?? '';
  return JSON.stringify({
    type: 'service_account',
    project_id: `bench-${randomBytes(4).toString('hex')}`,
    private_key_id: randomBytes(20).toString('hex'),
    private_key: `-----BEGIN PRIVATE KEY-----\\n${pem}\\n-----END PRIVATE KEY-----\\n`,
    client_email: 'bench@bench.iam.gserviceaccount.com',
    client_id: randomBytes(10).toString('hex'),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
  });
}

const token = (chars: number): string => randomBytes(chars).toString('base64url').slice(0, chars);
const set = (values: string[]): Secret[] => values.map((value, i) => ({ value, placeholder: `edgeharness_placeholder_vcrd_bench${i}` }));
const SETS: Array<[string, Secret[]]> = [
  ['3 × 40 chars', set([token(40), token(40), token(40)])],
  ['3 × 200 chars', set([token(200), token(200), token(200)])],
  ['3 × 2.3 KB (key files)', set([serviceAccountKey(), serviceAccountKey(), serviceAccountKey()])],
  ['1 × 64 KB (vault max)', set([token(64 * 1024)])],
];

/** Text like a JSON API's responses, without the secrets in it. */
function responseText(bytes: number): Buffer {
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const part = `{"id":"${randomBytes(9).toString('base64url')}","name":"item ${size}","data":"${randomBytes(48).toString('base64')}","ok":true},\n`;
    parts.push(part);
    size += part.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

/** Median ms of `run`, repeated for about half a second (at least 3 times). */
function timed(run: () => void): number {
  const ms: number[] = [];
  const until = performance.now() + 500;
  while (ms.length < 3 || (performance.now() < until && ms.length < 1_000)) {
    const t0 = performance.now();
    run();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)] as number;
}

const body = responseText(STREAM_MB << 20);
console.log(`edgeharness scrubber benchmark — spellings built, looked up, and ${STREAM_MB} MB of JSON-like text streamed through in ${CHUNK / 1024} KB chunks\n`);
console.log('                            forms | build ms | cached ms |   MB/s');
for (const [name, secrets] of SETS) {
  const build = timed(() => new SecretForms(secrets));
  // each request or tool result brings fresh objects with the same values, as the vault hands them out
  formsFor(secrets);
  const cached = timed(() => formsFor(secrets.map((s) => ({ ...s }))));
  const forms = formsFor(secrets);
  const stream = (): void => {
    const scrubber = new SecretScrubber(forms);
    for (let at = 0; at < body.length; at += CHUNK) scrubber.push(body.subarray(at, at + CHUNK));
    scrubber.end();
  };
  stream(); // warm: the first set would otherwise pay for the JIT
  const mbps = STREAM_MB / (timed(stream) / 1000);
  console.log(`  ${name.padEnd(24)} ${String(forms.forms.length).padStart(6)} | ${build.toFixed(2).padStart(8)} | ${cached.toFixed(3).padStart(9)} | ${mbps.toFixed(1).padStart(6)}`);
}
