type Undici = typeof import('undici');

let loading: Promise<Undici> | undefined;

/** undici, loaded when first needed (RegistryClient.warmUp right after start-up): its import takes ~130 ms. */
export function loadUndici(): Promise<Undici> {
  loading ??= import('undici');
  return loading;
}
