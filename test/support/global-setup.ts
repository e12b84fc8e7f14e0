/**
 * Jest's globalSetup (jest.config.js): before any test runs, says which tests this machine skips
 * for a missing tool or broker, and the one command that installs them (see tools.ts). Silent when
 * everything is there.
 */
import { brokers, missingNotice, reachable, toolPresent, TOOLS } from './tools';

export default async function globalSetup(): Promise<void> {
  const missingTools = TOOLS.filter((t) => !toolPresent(t));
  const all = brokers();
  const up = await Promise.all(all.map((b) => reachable(b.host, b.port)));
  const notice = missingNotice(missingTools, all.filter((_, i) => !up[i]), process.env.CI === 'true');
  if (notice) process.stderr.write(`${notice}\n`);
}
