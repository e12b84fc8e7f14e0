/**
 * The mail provider as a process of the world (world/world.ts starts it with `externals`): creates its PKI on
 * first start (MAIL_PKI_DIR), listens on loopback, prints one JSON line per request it received (its own log,
 * in .meshlab/logs/mail-provider.log) and reports its ports (http, tls, control) to the launcher. In the compose
 * world its ports are fixed (MAIL_HTTP_PORT, MAIL_TLS_PORT, MAIL_CONTROL_PORT) and it copies its CA — the public
 * half only — into MAIL_CA_EXPORT_DIR, the volume the sidecars mount read-only for the DestinationRule's
 * caCertificates.
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
  const exportDir = process.env.MAIL_CA_EXPORT_DIR;
  if (exportDir) {
    fs.mkdirSync(exportDir, { recursive: true });
    // Written whole, then renamed: a sidecar never reads half a CA.
    const tmp = path.join(exportDir, `.ca.pem.${process.pid}`);
    fs.writeFileSync(tmp, read('ca.pem'), { mode: 0o644 });
    fs.renameSync(tmp, path.join(exportDir, 'ca.pem'));
  }
  const port = (name: string): number | undefined => (process.env[name] ? Number(process.env[name]) : undefined);
  const provider = new MailProvider({ host: env('MESH_HOST', '127.0.0.1'), httpPort: port('MAIL_HTTP_PORT'), tlsPort: port('MAIL_TLS_PORT'), controlPort: port('MAIL_CONTROL_PORT'), tls: { cert: read('server-cert.pem'), key: read('server-key.pem'), ca: read('ca.pem') }, mutual: process.env.MAIL_MUTUAL === '1', seed: Number(process.env.MESH_SEED ?? 17) });
  provider.onReceived = (e) => process.stdout.write(JSON.stringify(e) + '\n');
  await provider.start();
  onShutdown(() => provider.stop());
  reportReady('mail-provider', provider.ports);
}

main().catch((err) => {
  console.error(`mail-provider failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
