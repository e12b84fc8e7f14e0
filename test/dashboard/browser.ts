import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium (apt-get install -y chromium). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Whether browser tests can run. Without Chromium they are skipped with a loud notice, except in
 * CI (CI=true), where a missing browser is a broken setup and the tests fail.
 */
export function browserAvailable(): boolean {
  if (fs.existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true') return true; // let launch() fail loudly
  console.warn(`\n!!! SKIPPING dashboard browser tests: ${CHROMIUM} is missing. Install it with\n!!!   apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium\n`);
  return false;
}

/**
 * Headless Chromium with a fresh profile (playwright passes it as --user-data-dir itself, and
 * refuses the flag in args); `close()` also removes the profile.
 */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing; CI must install it: apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where screenshots go (gitignored). */
export const ARTIFACTS = path.resolve(__dirname, '..', '..', '..', 'test-artifacts', 'dashboard');
