import type { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import test from 'ava';
import { openDatabase } from '../store/database.js';
import { ipamDriverSuite } from '../testkit/ipam-suite.js';
import { DefaultIpam } from './default-ipam.js';

// skiffd's own IPAM passes the suite third-party IPAM plugins run (no host routes in the way).
const opened: DatabaseSync[] = [];
test.after.always(() => {
  for (const db of opened) db.close();
});

ipamDriverSuite(test, 'default IPAM', async ({ state }) => {
  const db = openDatabase(join(state, 'skiff.db'));
  opened.push(db);
  return new DefaultIpam(db, { routes: async () => [] });
});
