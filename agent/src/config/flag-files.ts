/**
 * Files named by the agent's flags: the Git credentials file and the hub's CA.
 * Problems name the flag and the file, never the content.
 */
import { readFileSync } from 'node:fs';
import type { GitAuth } from '../source/index.ts';
import { flag, type AgentFlagValues } from './agent-flags.ts';

/** I/O of {@link resolveAgentOptions}, replaceable in tests. */
export interface ResolveAgentOptionsIo {
  /** Reads the credentials file. Default fs.readFileSync as UTF-8. */
  readFile?: (path: string) => string;
}
/** The user name sent with a bare token; GitHub, GitLab, Gitea and Azure DevOps ignore it. */
const TOKEN_USERNAME = 'git';

/** The text of `file`, named by flag `name`; undefined (and a problem) when it cannot be read. */
function readFlagFile(
  name: 'gitCredentialsFile' | 'hubCaFile',
  file: string,
  io: ResolveAgentOptionsIo,
  problems: string[],
): string | undefined {
  try {
    return (io.readFile ?? ((p) => readFileSync(p, 'utf8')))(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    problems.push(
      `${flag(name)}: cannot read ${file}${typeof code === 'string' ? ` (${code})` : ''}`,
    );
    return undefined;
  }
}

/**
 * Git credentials from the password flag or the credentials file. Problems
 * name the flag and the file, never the content.
 */
export function loadGitAuth(
  v: AgentFlagValues,
  io: ResolveAgentOptionsIo,
  problems: string[],
): GitAuth | undefined {
  const username = v.gitUsername.trim();
  if (v.gitPassword !== '' && v.gitCredentialsFile !== '') {
    problems.push(`set either ${flag('gitPassword')} or ${flag('gitCredentialsFile')}, not both`);
    return undefined;
  }
  if (v.gitPassword !== '')
    return { username: username || TOKEN_USERNAME, password: v.gitPassword };
  if (v.gitCredentialsFile === '') {
    if (username !== '') {
      problems.push(
        `${flag('gitUsername')} is set but there is no password: set ${flag('gitPassword')} or ${flag('gitCredentialsFile')}`,
      );
    }
    return undefined;
  }
  const file = v.gitCredentialsFile;
  const text = readFlagFile('gitCredentialsFile', file, io, problems);
  if (text === undefined) return undefined;
  const content = text.trim();
  if (content === '') {
    problems.push(`${flag('gitCredentialsFile')}: ${file} is empty`);
    return undefined;
  }
  if (/[\r\n]/.test(content)) {
    problems.push(
      `${flag('gitCredentialsFile')}: ${file} must hold one line, "username:password" or a token`,
    );
    return undefined;
  }
  const colon = content.indexOf(':');
  if (colon < 0) return { username: username || TOKEN_USERNAME, password: content };
  const fileUser = content.slice(0, colon);
  const password = content.slice(colon + 1);
  if (fileUser === '' || password === '') {
    problems.push(
      `${flag('gitCredentialsFile')}: ${file} must hold "username:password" with both parts, or a token`,
    );
    return undefined;
  }
  return { username: fileUser, password };
}

/** The hub CA from --hub-ca-file: PEM certificates only, so a wrong file fails at start. */
export function loadHubCa(
  file: string,
  io: ResolveAgentOptionsIo,
  problems: string[],
): string | undefined {
  if (file === '') return undefined;
  const text = readFlagFile('hubCaFile', file, io, problems);
  if (text === undefined) return undefined;
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    problems.push(`${flag('hubCaFile')}: ${file} holds no PEM certificate`);
    return undefined;
  }
  return text;
}
