import { InvalidParameterError } from '../plugin-api/errors.js';
import type { ImageService } from './image-service.js';
import { canonicalString, familiarString, type ImageReference, parseReference, validateTag } from './reference.js';

/** A container as image management sees it: which image it was created from, and whether it runs. */
export interface ContainerUse {
  id: string;
  imageId: string;
  running: boolean;
}

/**
 * moby's `RepoTagReference`: `repo` (which may carry a tag, but no digest) with `tag` applied,
 * `latest` by default. Used by tag, import and commit.
 */
export function repoTagReference(repo: string, tag = ''): ImageReference {
  if (repo === '') throw new InvalidParameterError('repository name must have at least one component');
  const ref = parseReference(repo);
  if (ref.digest !== undefined) throw new InvalidParameterError('cannot import digest reference');
  if (tag !== '') {
    validateTag(tag);
    return { domain: ref.domain, path: ref.path, tag };
  }
  return { domain: ref.domain, path: ref.path, tag: ref.tag ?? 'latest' };
}

/**
 * Points `ref` at `imageId` (moving it from any image it named before) and publishes the `tag`
 * event. Returns the image the name was taken from, if any.
 */
export function setTag(images: ImageService, imageId: string, ref: ImageReference): string | undefined {
  const { store, events } = images.local;
  const canonical = canonicalString(ref);
  const previous = store.resolveRef(canonical);
  store.putRef(canonical, imageId, 'tag');
  events.publish({
    Type: 'image',
    Action: 'tag',
    Actor: { ID: imageId, Attributes: { name: familiarString(ref) } },
  });
  return previous !== imageId ? previous : undefined;
}

/** `POST /images/{name}/tag?repo=&tag=`: NotFoundError for an unknown source, 400 for a bad name. */
export function tagImage(images: ImageService, source: string, repo: string, tag: string): void {
  const ref = repoTagReference(repo, tag);
  const img = images.resolve(source);
  setTag(images, img.id, ref);
}
