import { startHubProcess } from '../integration/hub/helpers.ts';
const hub = await startHubProcess({});
console.log(JSON.stringify({ http: hub.http, token: hub.bootstrapToken, pid: hub.proc.pid }));
await new Promise((r) => process.on('SIGTERM', r));
await hub.stop();
