import { randomInt } from 'node:crypto';

const LEFT = [
  'admiring',
  'bold',
  'brave',
  'calm',
  'clever',
  'eager',
  'elated',
  'focused',
  'gallant',
  'happy',
  'jolly',
  'keen',
  'lucid',
  'modest',
  'nifty',
  'quirky',
  'serene',
  'sharp',
  'stoic',
  'vibrant',
  'wizardly',
  'zen',
];
const RIGHT = [
  'babbage',
  'curie',
  'darwin',
  'einstein',
  'euler',
  'fermi',
  'galileo',
  'hopper',
  'hypatia',
  'kepler',
  'lovelace',
  'meitner',
  'newton',
  'noether',
  'pascal',
  'ritchie',
  'shannon',
  'thompson',
  'turing',
  'wozniak',
];

/** A random docker-style name (`/clever_hopper`); `suffix` > 0 appends a number to dodge collisions. */
export function randomName(suffix = 0): string {
  const n = `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
  return `/${suffix > 0 ? `${n}${suffix}` : n}`;
}
