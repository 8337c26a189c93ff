import { Config } from '@backstage/config';
import { InputError, NotAllowedError } from '@backstage/errors';

import { DEFAULT_ALLOWED_REGISTRIES } from '@internal/plugin-agents-common';

/** A parsed container image reference. */
export interface ImageReference {
  /** Registry host (with port), lower case; `docker.io` when none is named. */
  registry: string;
  /** Repository path inside the registry (`agents/summarizer`). */
  repository: string;
  tag?: string;
  /** `sha256:<hex>` when the reference is pinned. */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const HOST = /^[a-zA-Z0-9.-]+(?::[0-9]+)?$/;

/**
 * Parses `[registry/]repository[:tag][@digest]` (the Docker reference
 * grammar); throws InputError naming the image when it is not one.
 */
export function parseImageReference(image: string): ImageReference {
  const bad = (why: string) =>
    new InputError(`Image ${JSON.stringify(image)} is not valid: ${why}`);
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw bad('the digest must be sha256:<64 hex> or sha512:<128 hex>');
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`the tag ${JSON.stringify(tag)} is invalid`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0];
  if (
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost')
  ) {
    if (!HOST.test(first)) throw bad(`the registry ${first} is invalid`);
    registry = first.toLowerCase();
    parts.shift();
  }
  if (!parts.length || !parts.every(p => COMPONENT.test(p))) {
    throw bad('the repository must be lower-case path components');
  }
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  return { registry, repository: parts.join('/'), tag, digest };
}

/**
 * Which images agents may run: references into an allowed registry (or
 * registry path prefix), pinned by digest if `requireDigest`.
 */
export class ImageAllowList {
  static fromConfig(config: Config): ImageAllowList {
    const images = config.getOptionalConfig('productControlPlane.images');
    return new ImageAllowList(
      images?.getOptionalStringArray('allowedRegistries') ?? [
        ...DEFAULT_ALLOWED_REGISTRIES,
      ],
      images?.getOptionalBoolean('requireDigest') ?? false,
    );
  }

  private readonly prefixes: string[];

  constructor(
    readonly allowedRegistries: string[],
    readonly requireDigest: boolean,
  ) {
    this.prefixes = allowedRegistries.map(r =>
      r.replace(/\/+$/, '').toLowerCase(),
    );
  }

  /**
   * Throws NotAllowedError (403) naming the image and the agent unless the
   * image may run.
   */
  check(image: string, agentRef: string): ImageReference {
    const ref = parseImageReference(image);
    const path = `${ref.registry}/${ref.repository}`;
    const allowed = this.prefixes.some(
      p => path === p || path.startsWith(`${p}/`),
    );
    if (!allowed) {
      throw new NotAllowedError(
        `Image ${image} of ${agentRef} is not from an allowed registry (productControlPlane.images.allowedRegistries: ${
          this.allowedRegistries.join(', ') || 'none'
        }) [image-not-allowed]`,
      );
    }
    if (this.requireDigest && !ref.digest) {
      throw new NotAllowedError(
        `Image ${image} of ${agentRef} must be pinned by digest (image@sha256:...; productControlPlane.images.requireDigest) [image-not-pinned]`,
      );
    }
    return ref;
  }
}
