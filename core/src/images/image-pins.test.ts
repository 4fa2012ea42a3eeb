import test from 'ava';
import { ImagePins } from './image-pins.js';

test('pins are counted per key and released once', (t) => {
  const pins = new ImagePins();
  const a = pins.pin(['x', 'y', 'x']);
  const b = pins.pin(['y']);
  t.true(pins.has('x'));
  a();
  a();
  t.false(pins.has('x'));
  t.true(pins.has('y'));
  b();
  t.false(pins.has('y'));
});
