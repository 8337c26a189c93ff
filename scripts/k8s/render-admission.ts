/*
 * Prints k8s/15-runs-admission.yaml with the values of the given portal
 * config files (later files win): the image registry allow-list and digest
 * rule (`productControlPlane.images`), the platform Secret's name
 * (`infraControlPlane.kubernetes.platformSecretName`) and the platform
 * secrets agents may be granted (`productControlPlane.platformSecrets[].name`).
 *
 *   node --require ./node_modules/@backstage/cli/config/nodeTransform.cjs \
 *     scripts/k8s/render-admission.ts app-config.yaml app-config.production.yaml > runs-admission.yaml
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { renderAdmissionManifest } from '../../plugins/infra-control-plane-node/src/admissionParams';

const files = process.argv.slice(2);
let images: { allowedRegistries?: string[]; requireDigest?: boolean } = {};
let platformSecretName: string | undefined;
let platformSecretKeys: string[] | undefined;
for (const file of files) {
  const config = YAML.parse(fs.readFileSync(file, 'utf8')) ?? {};
  images = { ...images, ...config.productControlPlane?.images };
  platformSecretName =
    config.infraControlPlane?.kubernetes?.platformSecretName ??
    platformSecretName;
  const grants = config.productControlPlane?.platformSecrets;
  if (Array.isArray(grants)) {
    platformSecretKeys = grants.map((g: { name: string }) => g.name);
  }
}
const manifest = fs.readFileSync(
  path.resolve(__dirname, '../../k8s/15-runs-admission.yaml'),
  'utf8',
);
process.stdout.write(
  renderAdmissionManifest(manifest, {
    allowedRegistries: images.allowedRegistries,
    requireDigest: images.requireDigest,
    platformSecretName,
    platformSecretKeys,
  }),
);
