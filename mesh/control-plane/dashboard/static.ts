import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/** The page's files: dashboard/ at the repository root (next to dist/), plain ES modules and CSS, no build step. */
export const ASSET_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'dashboard');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** Only plain file names directly in the asset folder: no path can leave it. */
const SAFE_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)+$/;

/** Serves `/` (index.html) and `/dashboard/<file>`. Files are read per request, so editing the page needs no restart. */
export function registerStatic(app: FastifyInstance, dir = ASSET_DIR): void {
  const serve = (name: string, reply: import('fastify').FastifyReply): unknown => {
    const type = TYPES[path.extname(name)];
    if (!SAFE_NAME.test(name) || !type) return reply.code(404).send({ error: `no dashboard file ${JSON.stringify(name)}` });
    const file = path.join(dir, name);
    let body: Buffer;
    try {
      body = fs.readFileSync(file);
    } catch {
      return reply.code(404).send({ error: `no dashboard file ${name} in ${dir}` });
    }
    return reply.header('cache-control', 'no-cache').type(type).send(body);
  };
  app.get('/', (_req, reply) => serve('index.html', reply));
  app.get('/dashboard/:file', (req, reply) => serve((req.params as { file: string }).file, reply));
}
