// Benchmark for the Files API: upload and download throughput of a 50 MB file through the real runtime (wrangler
// dev, R2 in its persist dir), via the official SDK. Prints the median MB/s over a few runs; asserts only that
// the bytes came back whole.
import { randomBytes } from 'node:crypto';
import { percentile, startBenchRuntime } from './bench-runtime.ts';

const SIZE = Number(process.env.BENCH_FILE_BYTES ?? 50_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const { client, stop } = await startBenchRuntime('files');

try {
  const bytes = randomBytes(SIZE);
  const up: number[] = [];
  const down: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const meta = await client.beta.files.upload({ file: new File([bytes], `bench-${i}.bin`) });
    up.push(SIZE / 1e6 / ((performance.now() - t0) / 1000));
    const t1 = performance.now();
    const back = Buffer.from(await (await client.beta.files.download(meta.id)).arrayBuffer());
    down.push(SIZE / 1e6 / ((performance.now() - t1) / 1000));
    if (!back.equals(bytes)) throw new Error(`run ${i}: the download differs from the upload`);
    await client.beta.files.delete(meta.id);
  }
  console.log(`edgeharness files benchmark — ${(SIZE / 1e6).toFixed(0)} MB file, ${RUNS} runs, local runtime (R2 on disk)\n`);
  console.log(`  upload   median ${percentile(up, 50).toFixed(1)} MB/s  (min ${Math.min(...up).toFixed(1)}, max ${Math.max(...up).toFixed(1)})`);
  console.log(`  download median ${percentile(down, 50).toFixed(1)} MB/s  (min ${Math.min(...down).toFixed(1)}, max ${Math.max(...down).toFixed(1)})\n`);
} finally {
  await stop();
}
