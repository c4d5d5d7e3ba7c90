// Writing a file where nothing is yet, as both sandbox providers place read-only resources: the host's local
// placement and the container's own placement script share it (the image copies this file beside that script).
import { closeSync, constants, openSync, writeSync } from 'node:fs';

/**
 * Creates `target` with `mode` and writes all of `bytes` to it. O_EXCL|O_NOFOLLOW: a name that appeared meanwhile,
 * a link among them, is never written through; the call throws instead.
 */
export function writeNewFile(target: string, bytes: Uint8Array, mode: number): void {
  const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
  } finally {
    closeSync(fd);
  }
}
