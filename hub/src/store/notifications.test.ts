import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openStore } from './index.ts';
import { notificationStoreSuite } from '../../test/notify-store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'driftless-notify-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

notificationStoreSuite('sqlite', () => openStore({ kind: 'sqlite', path: join(dir, 'hub.db') }), {
  replicas: false,
});
