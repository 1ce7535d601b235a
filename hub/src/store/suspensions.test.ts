import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openStore } from './index.ts';
import { suspensionStoreSuite } from '../../test/suspend-store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'driftless-suspend-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

suspensionStoreSuite('sqlite', () => openStore({ kind: 'sqlite', path: join(dir, 'hub.db') }));
