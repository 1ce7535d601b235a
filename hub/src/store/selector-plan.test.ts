import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { driftSelectorSuite } from '../../test/drift-selector-contract.ts';
import { openSqliteDb } from './sqlite.ts';

const dir = mkdtempSync(join(tmpdir(), 'driftless-selector-plan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

driftSelectorSuite('sqlite', async () => openSqliteDb({ path: join(dir, 'hub.db') }));
