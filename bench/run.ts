import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from './args';
import { runBench } from './bench';
import { renderReport } from './report';
import { renderSvg } from './svg';

/**
 * `npm run bench -- [flags]`: per-hop latency of the sidecar, side by side with HAProxy and nginx,
 * as a terminal table, a JSON file and an SVG chart under bench/results/, and a one-line summary.
 */
async function main(): Promise<void> {
  // Progress piped into a reader that went away (`| head`) must not kill the run before it cleans up.
  process.stderr.on('error', () => undefined);
  process.stdout.on('error', () => undefined);
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const results = await runBench(args, { progress: (line) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`) });
  const resultsDir = path.resolve(__dirname, '../../bench/results');
  const stamp = results.meta.startedAt.replace(/[:.]/g, '-');
  const jsonFile = path.resolve(args.jsonFile ?? path.join(resultsDir, `bench-${stamp}.json`));
  const svgFile = path.resolve(args.svgFile ?? jsonFile.replace(/\.json$/, '') + '.svg');
  fs.mkdirSync(path.dirname(jsonFile), { recursive: true });
  fs.mkdirSync(path.dirname(svgFile), { recursive: true });
  fs.writeFileSync(jsonFile, JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(svgFile, renderSvg(results));
  process.stdout.write(renderReport(results) + '\n\n');
  process.stdout.write(`results: ${jsonFile}\nchart:   ${svgFile}\n`);
  process.stdout.write(results.summary + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).message}\n`);
  process.exit(1);
});
