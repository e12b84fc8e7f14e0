/**
 * The mail provider as a process of the world (world/world.ts starts it with `externals`): creates its PKI on
 * first start (MAIL_PKI_DIR), listens on loopback, prints one JSON line per request it received (its own log,
 * in .meshlab/logs/mail-provider.log) and reports its ports (http, tls, control) to the launcher.
 */
import fs from 'node:fs';
import path from 'node:path';
import { env, onShutdown, reportReady } from '../../lib/ipc';
import { MailProvider } from './mail-provider';
import { createProviderPki } from './provider-pki';

async function main(): Promise<void> {
  const dir = env('MAIL_PKI_DIR');
  const serverName = env('MAIL_SERVER_NAME', 'api.mail.example');
  const exists = fs.existsSync(path.join(dir, 'ca.pem')) && fs.existsSync(path.join(dir, 'server-key.pem'));
  if (!exists) await createProviderPki(dir, serverName);
  const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  const provider = new MailProvider({ host: env('MESH_HOST', '127.0.0.1'), tls: { cert: read('server-cert.pem'), key: read('server-key.pem'), ca: read('ca.pem') }, mutual: process.env.MAIL_MUTUAL === '1', seed: Number(process.env.MESH_SEED ?? 17) });
  provider.onReceived = (e) => process.stdout.write(JSON.stringify(e) + '\n');
  await provider.start();
  onShutdown(() => provider.stop());
  reportReady('mail-provider', provider.ports);
}

main().catch((err) => {
  console.error(`mail-provider failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
