/**
 * The image the manifests run is the one the repository's Dockerfile builds: compose's image
 * constant (tagged on `docker compose build` from Dockerfile), with entry modules the Dockerfile
 * compiles and copies into the runtime stage.
 */
import fs from 'node:fs';
import path from 'node:path';
import { composeDocument } from '../../world/compose-generate';
import { NODE_IMAGE } from '../../world/compose-layout';
import { kubernetesExport } from '../../world/kubernetes-export';
import { objectsOf, ROOT } from './helpers';

type Container = { name: string; image: string; command?: string[] };
const objects = objectsOf(kubernetesExport().files).filter((o) => o.kind !== 'Kustomization');
const containers = objects.flatMap((o) => ((o.spec?.template?.spec?.containers ?? []) as Container[]).map((c) => ({ ...c, owner: `${o.kind}/${o.metadata.name}` })));
const nodeContainers = containers.filter((c) => c.image !== 'auto' && !['StatefulSet/kafka', 'Deployment/rabbitmq'].includes(c.owner));

describe('the image the manifests use', () => {
  it('every app container runs NODE_IMAGE, the tag compose gives the image it builds from ./Dockerfile', () => {
    expect(nodeContainers.map((c) => c.owner)).toEqual(['Deployment/orders-v1', 'Deployment/payments-v1', 'Deployment/payments-v2', 'Deployment/notifications-v1']);
    const built = Object.values((composeDocument() as { services: Record<string, { image: string; build?: { context: string; dockerfile: string } }> }).services).filter((s) => s.build);
    expect(new Set(built.map((s) => `${s.image} ${s.build!.context} ${s.build!.dockerfile}`))).toEqual(new Set([`${NODE_IMAGE} . Dockerfile`]));
    for (const c of nodeContainers) expect(`${c.owner} ${c.image}`).toBe(`${c.owner} ${NODE_IMAGE}`);
    // The only other images: the brokers compose pins, and Istio's injected gateway ("auto").
    expect([...new Set(containers.map((c) => c.image))].sort()).toEqual(['apache/kafka:3.9.1', 'auto', NODE_IMAGE, 'rabbitmq:4.1.0-management']);
  });

  it("each container's entry module is compiled by the Dockerfile's build and copied into its runtime stage", () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy', 'tsconfig.docker.json'), 'utf8')) as { include: string[] };
    expect(dockerfile).toMatch(/RUN npx tsc -p deploy\/tsconfig\.docker\.json/);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist dist/);
    // WORKDIR /app: `node dist/…` resolves inside the image as it does in the repository.
    expect(dockerfile).toMatch(/FROM \$\{NODE_IMAGE\} AS runtime\nENV NODE_ENV=production\nWORKDIR \/app/);
    for (const c of nodeContainers) {
      const [node, entry] = c.command!;
      expect(node).toBe('node');
      const top = entry.replace(/^dist\//, '').split('/')[0];
      expect(`${c.owner}: ${tsconfig.include.includes(`../${top}`)} ${new RegExp(`^COPY ${top} ${top}$`, 'm').test(dockerfile)}`).toBe(`${c.owner}: true true`);
      expect(fs.existsSync(path.join(ROOT, entry))).toBe(true);
    }
  });

  it("the pods run as the Dockerfile's USER node (uid 1000 in the node base image), non-root", () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:\d+\.\d+\.\d+-bookworm-slim$/m);
    for (const o of objects.filter((x) => nodeContainers.some((c) => c.owner === `${x.kind}/${x.metadata.name}`))) {
      expect(o.spec.template.spec.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 });
    }
  });
});
