import { networkDriverSuite, providedNetworkDriver } from '@skiff/core/testkit';
import test from 'ava';
import plugin from './plugin.js';

networkDriverSuite(test, 'net-none', () => providedNetworkDriver(plugin));
