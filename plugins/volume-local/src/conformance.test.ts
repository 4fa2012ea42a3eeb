import { providedVolumeDriver, volumeDriverSuite } from '@skiff/core/testkit';
import test from 'ava';
import plugin from './plugin.js';

volumeDriverSuite(test, 'volume-local', (ctx) => providedVolumeDriver(plugin, ctx));
