/** `meshlab token` (the lab's token issuer) and `meshlab certs create` (gateway TLS credentials). */
import path from 'node:path';
import { flag, parseArgs } from '../args';
import { issueToken } from '../../mesh/security/token-issuer';
import { createClientCertificate, createServerCredential } from '../../mesh/gateway/certs';
import fs from 'node:fs';

export const TOKEN_HELP = `meshlab token --sub SUB [--aud AUD]... [--claim k=v]... [--ttl SECONDS]
  Prints a JWT from the lab's issuer (config/jwt/issuer-key.pem), which config/default's
  RequestAuthentication trusts: curl -H "Authorization: Bearer $(bin/meshlab token --sub alice --aud shop)" …`;

export const CERTS_HELP = `meshlab certs create HOST... [--name CREDENTIAL] [--dir .meshlab/credentials] | certs client CN [--dir …]
  Creates a gateway TLS credential (Gateway tls.credentialName) for the hosts, signed by the local edge CA
  (DIR/ca.crt, what curl --cacert trusts); "client" prints a client certificate and key for MUTUAL servers.`;

export async function tokenCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const sub = flag(args, 'sub');
  if (!sub) throw new Error(`--sub is required\n${TOKEN_HELP}`);
  const aud = args.flags.get('aud');
  const claims: Record<string, unknown> = {};
  for (const c of args.flags.get('claim') ?? []) {
    const eq = c.indexOf('=');
    if (eq <= 0) throw new Error(`--claim must be NAME=VALUE, got "${c}"`);
    claims[c.slice(0, eq)] = c.slice(eq + 1);
  }
  const ttl = flag(args, 'ttl');
  console.log(await issueToken({ sub, aud: aud && (aud.length === 1 ? aud[0] : aud), claims, ttlSeconds: ttl === undefined ? undefined : Number(ttl) }));
  return 0;
}

export async function certsCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const [sub, ...rest] = args.positionals;
  const dir = path.resolve(flag(args, 'dir', path.join('.meshlab', 'credentials'))!);
  if (sub === 'create' && rest.length > 0) {
    const name = flag(args, 'name', rest[0])!;
    const out = await createServerCredential(dir, name, rest);
    console.log(`credential ${name}: ${path.join(out.dir, 'tls.crt')}, ${path.join(out.dir, 'tls.key')}\nCA (curl --cacert): ${out.ca}\nuse it in a Gateway server: tls: {mode: SIMPLE, credentialName: ${name}}`);
    return 0;
  }
  if (sub === 'client' && rest.length === 1) {
    const c = await createClientCertificate(dir, rest[0]);
    fs.writeFileSync(path.join(dir, `${rest[0]}.client.crt`), c.cert);
    fs.writeFileSync(path.join(dir, `${rest[0]}.client.key`), c.key, { mode: 0o600 });
    console.log(`client certificate: ${path.join(dir, `${rest[0]}.client.crt`)}, key ${path.join(dir, `${rest[0]}.client.key`)}`);
    return 0;
  }
  throw new Error(CERTS_HELP);
}
