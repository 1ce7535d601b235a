// A one-agent Connect stream in a process of its own, for tests that stop it (SIGSTOP) to play
// an agent whose event loop is held up. Reads the hub and identity from the JSON file named by
// argv[2]; says Hello; prints `ack <seq>` for every ack and `ended <code> <details>` when the
// stream ends; sends a report for every `report <seq>` line on stdin.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { connect } from './helpers.ts';

const { hub, identity, cluster } = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as {
  hub: { grpc: string; caPem: string };
  identity: { keyPem: string; certPem: string };
  cluster: string;
};
const stream = connect(hub, identity);
stream.send(0n, {
  $case: 'hello',
  value: {
    clusterName: cluster,
    agentVersion: 'test',
    lastAckedHubSeq: 0n,
    labels: {},
    apps: [],
    repoUrl: '',
    branch: '',
  },
});
void stream.status.then((s) => {
  console.log(`ended ${s.code} ${s.details}`);
  process.exit(0);
});
void (async () => {
  for (;;) {
    const m = await stream.next(24 * 3600_000);
    if (m.body?.$case === 'ack') console.log(`ack ${m.body.value.agentSeq}`);
  }
})();
createInterface({ input: process.stdin }).on('line', (line) => {
  const [verb, seq] = line.split(' ');
  if (verb === 'report')
    stream.send(BigInt(seq!), {
      $case: 'reportsDropped',
      value: { firstSeq: 0n, lastSeq: 0n, count: 1n, summary: 'test' },
    });
});
