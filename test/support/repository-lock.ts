import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const ROOT = resolve(__dirname, '../..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes turns on part of the repository with the other Jest workers: a test that writes into the
 * repository's own plugins/ folder (the scaffold) and one that compiles that folder (the build
 * `npm start` runs) would otherwise meet half-written or half-deleted files. The lock is a folder
 * made atomically, per clone; one whose test process died is taken over.
 * Returns what gives it back.
 */
export async function lockRepository(part: string, timeoutMs = 300_000): Promise<() => void> {
  const clone = createHash('sha256').update(ROOT).digest('hex').slice(0, 12);
  const path = join(tmpdir(), `aegle-test-lock-${clone}-${part}`);
  const owner = join(path, 'pid');
  for (const started = Date.now(); ;) {
    try {
      mkdirSync(path);
      writeFileSync(owner, String(process.pid));
      return () => rmSync(path, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let pid = 0;
    try {
      pid = Number(readFileSync(owner, 'utf8')) || 0;
    } catch {
      // being taken (no pid written yet) or just given back: try again
    }
    if (pid > 0 && !alive(pid)) rmSync(path, { recursive: true, force: true });
    if (Date.now() - started > timeoutMs) throw new Error(`the repository's ${part} stayed locked`);
    await delay(200);
  }
}
