/**
 * `make demo`: will start the hub, two local clusters, a Git server with an
 * example fleet and two enrolled agents. The agent–hub link is not built yet,
 * so for now it says what exists and how to try it.
 */
process.stdout.write(`make demo is not available yet: the agent-hub link (enrollment of agents,
reports to the hub) is still being built.

What runs today:
  - the agent on its own:   node agent/bin/driftless-agent.ts run --help
  - the agent's tools:      node agent/bin/driftless-agent.ts render|diff|export --help
  - the hub:                node hub/bin/driftless-hub.ts --help
  - every test:             make test
`);
process.exitCode = 1;
