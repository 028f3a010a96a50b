import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Browser, chromium } from 'playwright-core';

/** Debian's Chromium (scripts/ensure-chromium.sh installs it when missing). */
export const CHROMIUM = process.env.AEGLE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless Chromium with nothing reaching out on its own (no updates, sync or QUIC). Playwright
 * gives each launch a fresh, throw-away --user-data-dir.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Where the console test saves its screenshots (git-ignored). */
export async function screenshotDir(name: string): Promise<string> {
  const dir = join(__dirname, '..', '..', 'test-output', name);
  await mkdir(dir, { recursive: true });
  return dir;
}
