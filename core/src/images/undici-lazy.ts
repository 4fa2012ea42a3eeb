type Undici = typeof import('undici');

let loading: Promise<Undici> | undefined;

/** undici, loaded on the first registry request: importing it costs an idle daemon ~20 MiB of RSS. */
export function loadUndici(): Promise<Undici> {
  loading ??= import('undici');
  return loading;
}
