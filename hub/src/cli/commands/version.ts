/** `driftless version`: the CLI's version and the hub's. */
import { cliVersion } from '../version.ts';
import { defineCommand } from '../command.ts';
import { fieldsText, type Row } from '../table.ts';

/** The version command. */
export const versionCommands = [
  defineCommand({
    name: 'version',
    usage: '',
    summary: "print the CLI's version and the hub's",
    description: `The hub's version comes from its /healthz answer (no token needed). When the hub
cannot be reached, the CLI's version is printed and the exit code is 1.`,
    flags: {},
    async run({ client, print, io }) {
      const cli = cliVersion();
      let health: Row;
      try {
        health = await client.call<Row>('GET', '/healthz');
      } catch (err) {
        // The CLI's own version is known either way; the error (exit 1) says why the hub's is not.
        io.stdout(`CLI:  ${withCommit(cli)}\n`);
        throw err;
      }
      const hub = {
        version: typeof health['version'] === 'string' ? health['version'] : 'unknown',
        ...(typeof health['commit'] === 'string' ? { commit: health['commit'] } : {}),
        url: client.base,
      };
      print({ cli, hub }, () =>
        fieldsText([
          ['CLI', withCommit(cli)],
          ['Hub', `${withCommit(hub)} at ${hub.url}`],
        ]),
      );
      return 0;
    },
  }),
];

const withCommit = (v: { version: string; commit?: string }) =>
  v.commit ? `${v.version} (commit ${v.commit.slice(0, 12)})` : v.version;
